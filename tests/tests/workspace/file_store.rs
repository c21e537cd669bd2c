//! The file token store (`oauth-file-store`): the runs of a command-line tool sharing one
//! login through a file, against the real server with refresh-token rotation and reuse
//! detection. Each run is a session with a store of its own on the same path, as separate
//! processes would have.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use oauth_core::Grant;
use oauth_core::store::StoreKey;
use oauth_file_store::FileStore;

use crate::start_server;

const CLIENT: &str = "admin-cli-rotating";

fn run(path: &PathBuf, token_endpoint: &str) -> oauth_ureq::OAuth2Session {
    oauth_ureq::OAuth2Session::builder(CLIENT)
        .token_endpoint(token_endpoint)
        .store(FileStore::new(path, StoreKey::from_bytes([3; 32])))
        .build()
        .expect("session")
}

fn stored_version(path: &PathBuf) -> u64 {
    let text = std::fs::read(path).expect("the record");
    let record: serde_json::Value = serde_json::from_slice(&text).expect("json");
    record["version"].as_u64().expect("version")
}

#[test]
fn runs_of_a_tool_share_one_login_and_one_refresh_per_expiry_through_a_file() {
    let server = start_server(Duration::from_secs(4));
    let dir = std::env::temp_dir().join(format!("oauth-file-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("token");
    let _ = std::fs::remove_file(&path);

    let login = run(&path, &server.token_endpoint());
    login
        .fetch_token(Grant::password("admin", "admin"))
        .expect("login stored");
    assert_eq!(stored_version(&path), 1);

    // Three runs at once, four threads each, for 7 s (three expiries of a 4 s token).
    let deadline = Instant::now() + Duration::from_secs(7);
    let runs: Vec<_> = (0..3)
        .map(|_| run(&path, &server.token_endpoint()))
        .collect();
    let workers: Vec<_> = runs
        .iter()
        .flat_map(|session| (0..4).map(move |_| session.clone()))
        .map(|session| {
            let url = server.resource_url();
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0, Vec::new());
                while Instant::now() < deadline {
                    match session.get(&url).call() {
                        Ok(response) if response.status() == 200 => ok += 1,
                        Ok(response) => failed.push(format!("HTTP {}", response.status())),
                        Err(error) => failed.push(error.to_string()),
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                (ok, failed)
            })
        })
        .collect();
    for worker in workers {
        let (ok, failed) = worker.join().expect("worker");
        assert!(failed.is_empty(), "{failed:?}");
        assert!(ok > 10);
    }
    let stats = server.stats().expect("stats");
    let refreshes = stats.token_requests("refresh_token");
    assert_eq!(stats.token_errors("invalid_grant"), 0);
    assert!(refreshes >= 2, "{refreshes}");
    assert_eq!(
        refreshes,
        stored_version(&path) - 1,
        "one committed version per refresh"
    );

    // Owner-only, and no token in clear.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("record")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let contents = String::from_utf8_lossy(&std::fs::read(&path).expect("record")).into_owned();
    let token = runs[0].token().expect("token");
    assert!(!contents.contains(token.access_token().secret()));
    let refresh = token.refresh_token().expect("refresh token");
    assert!(!contents.contains(refresh.secret()));
    let lock = std::fs::metadata(path.with_extension("lock")).expect("the lock file");
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&lock.permissions()) & 0o777,
        0o600
    );
    let _ = std::fs::remove_dir_all(&dir);
}
