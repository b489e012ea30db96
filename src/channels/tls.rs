//! TLS for IMAP and SMTP: rustls with the ring provider, the public web PKI roots, and
//! optionally extra CA certificates from a PEM file (a utility's own CA, a test server).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read CA certificates from {path}: {message}")]
    CaFile { path: String, message: String },
    #[error("`{0}` is not a valid host name for TLS")]
    ServerName(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Installs ring as the process-wide rustls provider. Every crate in the binary uses rustls
/// with ring; installing it once up front rules out a second provider being picked at run time.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        let err = |message: String| TlsError::CaFile { path: path.display().to_string(), message };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))?;
        let mut added = 0;
        for cert in certs {
            roots.add(cert.map_err(|e| err(e.to_string()))?).map_err(|e| err(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(err("no certificate found".into()));
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string()).map_err(|_| TlsError::ServerName(host.to_string()))
}

/// The CA certificates of `ca_file`, DER-encoded (what lettre takes).
pub fn der_certificates(ca_file: &Path) -> Result<Vec<Vec<u8>>, TlsError> {
    let err = |message: String| TlsError::CaFile { path: ca_file.display().to_string(), message };
    let certs = CertificateDer::pem_file_iter(ca_file).map_err(|e| err(e.to_string()))?;
    certs.map(|c| c.map(|der| der.to_vec()).map_err(|e| err(e.to_string()))).collect()
}
