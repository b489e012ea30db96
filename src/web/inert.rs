//! PLACEHOLDER until the inert-display branch lands: the customer's message as escaped text.

pub enum RemoteImages {
    Blocked,
    Allowed,
}

pub struct Shown {
    pub document: String,
    pub blocked_images: usize,
    pub had_html: bool,
}

pub fn frame_document(raw_message: &[u8], _images: RemoteImages) -> Shown {
    let text = mail_parser::MessageParser::default().parse(raw_message).and_then(|m| m.body_text(0).map(|t| t.into_owned())).unwrap_or_default();
    Shown { document: format!("<!doctype html><meta charset=\"utf-8\"><pre>{}</pre>", tera::escape_html(&text)), blocked_images: 0, had_html: false }
}

pub fn frame_csp(_images: RemoteImages) -> &'static str {
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
}
