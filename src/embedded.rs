//! Files compiled into the binary by build.rs: templates, migrations, the sample mailbox.

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
