//! HTTPS through the `rustls` feature, against a loopback TLS server (futures-rustls, a
//! self-signed certificate for `localhost` made by rcgen). No tokio runtime is involved.

#![cfg(feature = "rustls")]

use std::sync::Arc;
use std::time::Duration;

use async_std::net::TcpListener;
use async_std::task::block_on;
use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
use futures_rustls::TlsAcceptor;
use oauth_async_std::oauth_core::http::Request;
use oauth_async_std::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use oauth_async_std::rustls::{self, RootCertStore};
use oauth_async_std::{Error, HttpClient, OAuth2Session, Token, TransportError};

struct Certificate {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn localhost_certificate() -> Certificate {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    Certificate {
        cert: certified.cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()).into(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_trusting(certificate: &Certificate) -> HttpClient {
    let mut roots = RootCertStore::empty();
    roots.add(certificate.cert.clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    HttpClient::builder()
        .timeout(Duration::from_secs(10))
        .tls_config(Arc::new(config))
        .build()
}

/// Serves one TLS connection: answers each request head with `200 ok` until the client closes,
/// and returns the request heads it read.
async fn serve_one_connection(listener: TcpListener, certificate: Certificate) -> Vec<String> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate.cert], certificate.key)
        .expect("server config");
    let (tcp, _) = listener.accept().await.expect("accept");
    let Ok(mut tls) = TlsAcceptor::from(Arc::new(config)).accept(tcp).await else {
        return Vec::new();
    };
    let mut heads = Vec::new();
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    for _ in 0..1_000 {
        let Ok(n) = tls.read(&mut chunk).await else {
            break;
        };
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buffer.drain(..end + 4).collect();
            heads.push(String::from_utf8_lossy(&head).into_owned());
            let answer =
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
            if tls.write_all(answer).await.is_err() || tls.flush().await.is_err() {
                return heads;
            }
        }
    }
    heads
}

async fn listen() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    (listener, port)
}

#[test]
fn https_requests_share_one_tls_connection() {
    block_on(async {
        let certificate = localhost_certificate();
        let client = client_trusting(&certificate);
        let (listener, port) = listen().await;
        let server = async_std::task::spawn(serve_one_connection(listener, certificate));
        for path in ["/first", "/second?q=1"] {
            let request = Request::get(format!("https://localhost:{port}{path}"))
                .body(Vec::new())
                .expect("request");
            let response = client.send(request).await.expect("response");
            assert_eq!(response.status(), 200);
            let body = response.into_body().read_to_string().await.expect("body");
            assert_eq!(body, "ok");
        }
        assert_eq!(client.connections_opened(), 1);
        drop(client);
        let heads = server.await;
        assert_eq!(heads.len(), 2, "{heads:?}");
        assert!(
            heads[0].starts_with("GET /first HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );
        assert!(
            heads[1].starts_with("GET /second?q=1 HTTP/1.1\r\n"),
            "{}",
            heads[1]
        );
        assert!(
            heads[0]
                .to_ascii_lowercase()
                .contains(&format!("host: localhost:{port}\r\n")),
            "{}",
            heads[0]
        );
    });
}

#[test]
fn session_sends_its_bearer_over_https() {
    block_on(async {
        let certificate = localhost_certificate();
        let client = client_trusting(&certificate);
        let (listener, port) = listen().await;
        let server = async_std::task::spawn(serve_one_connection(listener, certificate));
        let session = OAuth2Session::builder("c")
            .token(Token::bearer("tls-at"))
            .http_client(client)
            .build()
            .expect("session");
        let response = session
            .get(format!("https://localhost:{port}/resource"))
            .call()
            .await
            .expect("response");
        assert_eq!(response.status(), 200);
        response.into_body().read_to_vec().await.expect("body");
        drop(session);
        let heads = server.await;
        assert!(
            heads[0]
                .to_ascii_lowercase()
                .contains("authorization: bearer tls-at\r\n"),
            "{}",
            heads[0]
        );
    });
}

#[test]
fn default_trust_anchors_refuse_a_self_signed_certificate() {
    block_on(async {
        let certificate = localhost_certificate();
        let (listener, port) = listen().await;
        let server = async_std::task::spawn(serve_one_connection(listener, certificate));
        let request = Request::get(format!("https://localhost:{port}/"))
            .body(Vec::new())
            .expect("request");
        let error = HttpClient::new().send(request).await.unwrap_err();
        assert!(
            matches!(&error, TransportError::Tls { origin, .. } if *origin == format!("https://localhost:{port}")),
            "{error}"
        );
        assert!(server.await.is_empty());
        // Through a session the same failure is a transport error.
        let session_error: Error = error.into();
        assert!(
            session_error
                .to_string()
                .starts_with("transport error: TLS handshake with")
        );
    });
}
