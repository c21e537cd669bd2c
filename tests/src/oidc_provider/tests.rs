//! Unit tests of the parts that need no server: install detection and the READY reader.

use super::install::{find_program, is_installed};
use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = env::temp_dir().join(format!("oauth-tests-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node_modules/oidc-provider")).expect("create temp dir");
        Self(dir)
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.0.join(path), text).expect("write temp file");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const LOCK: &str = r#"{"packages":{"":{"name":"x"},"node_modules/a":{"version":"1.0.0"}}}"#;

#[test]
fn installed_when_npm_recorded_exactly_the_locked_packages() {
    let dir = TempDir::new("installed");
    dir.write("node_modules/oidc-provider/package.json", "{}");
    dir.write("package-lock.json", LOCK);
    dir.write(
        "node_modules/.package-lock.json",
        r#"{"packages":{"node_modules/a":{"version":"1.0.0"}}}"#,
    );
    assert!(is_installed(&dir.0));
}

#[test]
fn not_installed_when_a_version_differs_or_oidc_provider_is_missing() {
    let dir = TempDir::new("stale");
    dir.write("package-lock.json", LOCK);
    dir.write(
        "node_modules/.package-lock.json",
        r#"{"packages":{"node_modules/a":{"version":"1.0.0"}}}"#,
    );
    assert!(
        !is_installed(&dir.0),
        "oidc-provider/package.json is missing"
    );
    dir.write("node_modules/oidc-provider/package.json", "{}");
    dir.write(
        "node_modules/.package-lock.json",
        r#"{"packages":{"node_modules/a":{"version":"2.0.0"}}}"#,
    );
    assert!(!is_installed(&dir.0));
}

#[test]
fn stdout_reader_reports_the_issuer_and_logs_other_lines() {
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    let pipe = std::io::Cursor::new(b"hello\nREADY http://127.0.0.1:4000\n".to_vec());
    spawn_stdout_reader(pipe, tx, Arc::clone(&log))
        .join()
        .expect("reader thread");
    assert_eq!(rx.recv(), Ok(Ok("http://127.0.0.1:4000".to_owned())));
    assert_eq!(*log.lock().expect("log lock"), "stdout: hello\n");
}

#[test]
fn stdout_reader_reports_an_exit_before_ready() {
    let (tx, rx) = mpsc::channel();
    let pipe = std::io::Cursor::new(b"crash\n".to_vec());
    spawn_stdout_reader(pipe, tx, Arc::new(Mutex::new(String::new())))
        .join()
        .expect("reader thread");
    assert!(matches!(rx.recv(), Ok(Err(reason)) if reason.contains("before printing READY")));
}

#[test]
fn missing_programs_are_not_found() {
    assert_eq!(find_program("no-such-program-for-oauth-tests"), None);
}
