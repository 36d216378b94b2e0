//! `--tls`: the server over TLS, HTTP/1.1 and HTTP/2 on one port. Browsers speak HTTP/2 only
//! over TLS, and over HTTP/1.1 they open at most six connections to a server, so 200 Lab
//! echoes queue for one; over HTTP/2 they share one connection and none waits.
//!
//! rustls (with ring as its cryptography) does the TLS; ALPN offers `h2` and `http/1.1`, and
//! the connection layer serves whichever the client chose ([`crate::connections`]). The
//! certificate is made at start for `127.0.0.1` and `localhost` by rcgen — a browser warns once
//! that it does not know who made it — or given as PEM files by `--tls-cert` and `--tls-key`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// Made at start for `127.0.0.1` and `localhost`, signed by itself.
    MadeAtStart,
    /// PEM files: the certificate chain and its private key.
    Files { cert: PathBuf, key: PathBuf },
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot make a certificate: {0}")]
    Make(#[from] rcgen::Error),
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] tokio_rustls::rustls::Error),
}

/// The server's TLS configuration: its certificate, and ALPN offering HTTP/2 then HTTP/1.1.
pub fn server_config(certificate: &Certificate) -> Result<Arc<ServerConfig>, TlsError> {
    let (chain, key) = match certificate {
        Certificate::MadeAtStart => made_at_start()?,
        Certificate::Files { cert, key } => from_files(cert, key)?,
    };
    // ring builds with the C compiler alone (aws-lc-rs, rustls' default, wants more of a C
    // toolchain); rustls 0.23.48 marks it deprecated for lacking post-quantum key exchange, which a
    // server for learning on one's own machine can do without.
    #[allow(deprecated)]
    let provider = ring::default_provider();
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The same configuration, its ALPN offering only HTTP/1.1: the port where the Lab's comparison
/// meets HTTP/1.1 over TLS, with the same certificate (a browser that was told to trust it for
/// the host trusts it there too).
pub fn http1_only(config: &ServerConfig) -> Arc<ServerConfig> {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn made_at_start() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])?;
    let key = PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    Ok((vec![made.cert.der().clone()], key.into()))
}

fn from_files(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let unreadable = |path: &Path| {
        let path = path.to_owned();
        move |error: rustls_pki_types::pem::Error| TlsError::Read {
            path,
            reason: error.to_string(),
        }
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(unreadable(cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable(cert))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(unreadable(key))?;
    Ok((chain, key))
}
