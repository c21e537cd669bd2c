//! Opening a connection: TCP on the async-io reactor, TLS by rustls (feature `rustls`), and the
//! HTTP/1.1 handshake.

#[cfg(feature = "rustls")]
use std::sync::Arc;

use async_std::net::TcpStream;
use futures_lite::io::{AsyncRead, AsyncWrite};

use super::io::HyperIo;
use super::pool::{Conn, Origin};
use crate::TransportError;

/// Connects to `origin` and returns the request half of a fresh HTTP/1.1 connection.
pub(crate) async fn open(origin: &Origin, tls: Option<&Tls>) -> Result<Conn, TransportError> {
    let tcp = TcpStream::connect((origin.host.as_str(), origin.port))
        .await
        .map_err(|source| TransportError::Connect {
            origin: origin.to_string(),
            source,
        })?;
    // Requests are small and written at once: do not hold them back for Nagle.
    let _ = tcp.set_nodelay(true);
    if !origin.https {
        return handshake(tcp).await;
    }
    match tls {
        #[cfg(feature = "rustls")]
        Some(tls) => {
            let stream = tls.connect(origin, tcp).await?;
            handshake(stream).await
        }
        _ => Err(TransportError::Unsupported {
            origin: origin.to_string(),
            reason: "https needs the `rustls` feature",
        }),
    }
}

async fn handshake<T>(stream: T) -> Result<Conn, TransportError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(HyperIo::new(stream)).await?;
    // No task of its own: the requests sent on it drive it (see `Conn`).
    Ok(Conn::new(sender, connection))
}

/// The TLS client configuration for `https` origins.
#[cfg(feature = "rustls")]
#[derive(Debug, Clone)]
pub(crate) struct Tls {
    config: Arc<futures_rustls::rustls::ClientConfig>,
}

/// Without the `rustls` feature there is no TLS: `https` origins are refused.
#[cfg(not(feature = "rustls"))]
#[derive(Debug, Clone)]
pub(crate) struct Tls;

#[cfg(feature = "rustls")]
impl Tls {
    pub(crate) fn new(config: Arc<futures_rustls::rustls::ClientConfig>) -> Self {
        Self { config }
    }

    /// rustls with the ring provider, the webpki-roots trust anchors (and the system's with
    /// the `native-roots` feature), the certificates `extra` (DER), and ALPN `http/1.1`.
    pub(crate) fn with_roots(extra: &[Vec<u8>]) -> Result<Self, TransportError> {
        use futures_rustls::rustls::pki_types::CertificateDer;
        use futures_rustls::rustls::{self, RootCertStore};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        #[cfg(feature = "native-roots")]
        {
            // Certificates the system store holds that do not parse are skipped, as rustls
            // advises; the webpki roots stay.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
        for der in extra {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| TransportError::TlsConfig(e.to_string()))?;
        }
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::TlsConfig(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self::new(Arc::new(config)))
    }

    async fn connect(
        &self,
        origin: &Origin,
        tcp: TcpStream,
    ) -> Result<futures_rustls::client::TlsStream<TcpStream>, TransportError> {
        use futures_rustls::rustls::pki_types::ServerName;
        let name =
            ServerName::try_from(origin.host.clone()).map_err(|_| TransportError::Unsupported {
                origin: origin.to_string(),
                reason: "the host is not a valid TLS server name",
            })?;
        futures_rustls::TlsConnector::from(Arc::clone(&self.config))
            .connect(name, tcp)
            .await
            .map_err(|source| TransportError::Tls {
                origin: origin.to_string(),
                source,
            })
    }
}
