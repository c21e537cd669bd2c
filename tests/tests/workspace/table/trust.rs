//! An organisation's authorization server behind a private CA: the seed scenario over HTTPS,
//! trusting a test CA made here with `add_root_certificate`; without it, the session refuses
//! the server.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use oauth_core::Grant;
use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::seed::run_seed_scenario;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::{Adapter, AdapterError, Options, SeedFacade};

/// A test CA and a leaf for 127.0.0.1 it issued, as PEM files in a directory of their own
/// (removed on drop).
struct TestCa {
    dir: PathBuf,
    ca_pem: String,
}

impl TestCa {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "oauth-rs test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("leaf params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf certificate");
        let dir = std::env::temp_dir().join(format!(
            "oauth-rs-test-ca-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("leaf.pem"), leaf.pem()).expect("write");
        std::fs::write(dir.join("leaf.key"), leaf_key.serialize_pem()).expect("write");
        Self {
            dir,
            ca_pem: ca_cert.pem(),
        }
    }

    fn start_server(&self, ttl: Duration) -> AuthServer {
        AuthServer::start_tls(ttl, &self.dir.join("leaf.pem"), &self.dir.join("leaf.key"))
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn the_seed_scenario_over_https_behind_a_private_ca<A: Adapter>() {
    let ca = TestCa::new();
    let server = ca.start_server(Duration::from_secs(4));
    assert!(server.issuer().starts_with("https://127.0.0.1:"));

    // Not trusted: the transport refuses the server; nothing is sent in clear.
    let untrusted = A::build(Options::new("admin-cli").server(&server)).expect("session");
    let error = untrusted
        .fetch_token(Grant::password("admin", "admin"))
        .expect_err("an unknown CA");
    assert!(error.is_transport(), "a TLS failure: {error}");
    assert_eq!(server.stats().expect("stats").token_requests("password"), 0);

    // Trusted, discovery included: the whole seed scenario over HTTPS.
    let options = Options::new("admin-cli")
        .discover(&server)
        .root_certificate(&ca.ca_pem)
        .leeway(Duration::from_secs(60));
    let mut driver = SeedFacade(A::build(options).expect("session"));
    run_seed_scenario(&server, &mut driver, &mut |line| {
        eprintln!("{} seed over https: {line}", A::NAME);
    })
    .expect("seed scenario over https");
}
