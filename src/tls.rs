//! TLS for the three listeners (`--tls-cert`, `--tls-key`): rustls with the
//! ring provider, HTTP/2 and HTTP/1.1 offered by ALPN (gRPC needs the
//! first). A certificate replaced on disk (a renewal) is picked up at the
//! next handshake, without a restart: each handshake compares the files'
//! modification times with those it loaded, two `stat`s.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use anyhow::Context as _;
use rustls::ServerConfig;
use rustls::crypto::ring;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The acceptor every listener shares.
///
/// # Errors
///
/// When the files cannot be read or do not hold a certificate chain and
/// its private key.
pub fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let resolver = Reloading::new(cert.to_owned(), key.to_owned())?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[derive(Debug)]
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    stamps: Stamps,
    key: Arc<CertifiedKey>,
}

type Stamps = (SystemTime, SystemTime);

impl Reloading {
    fn new(cert: PathBuf, key: PathBuf) -> anyhow::Result<Reloading> {
        let stamps = stamps(&cert, &key)?;
        let loaded = load(&cert, &key)?;
        Ok(Reloading {
            cert,
            key,
            current: RwLock::new(Loaded {
                stamps,
                key: loaded,
            }),
        })
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let now = stamps(&self.cert, &self.key).ok();
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        if now.is_none_or(|now| now == current.stamps) {
            return Some(current.key.clone());
        }
        let kept = current.key.clone();
        drop(current);
        match load(&self.cert, &self.key) {
            Ok(key) => {
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
                *current = Loaded {
                    stamps: now.unwrap_or(current.stamps),
                    key: key.clone(),
                };
                Some(key)
            }
            // Half-written files during a renewal: keep serving the old
            // pair and try again at the next handshake.
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "TLS certificate not reloaded; keeping the previous one");
                Some(kept)
            }
        }
    }
}

fn stamps(cert: &Path, key: &Path) -> anyhow::Result<Stamps> {
    let modified = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .with_context(|| format!("cannot read {}", path.display()))
    };
    Ok((modified(cert)?, modified(key)?))
}

fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("--tls-cert {}: {e}", cert.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "--tls-cert {}: no PEM certificate in it",
        cert.display()
    );
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("--tls-key {}: {e}", key.display()))?;
    let signing = ring::default_provider()
        .key_provider
        .load_private_key(private)
        .map_err(|e| anyhow::anyhow!("--tls-key {}: {e}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| anyhow::anyhow!("--tls-cert and --tls-key do not belong together: {e}"))?;
    Ok(Arc::new(certified))
}
