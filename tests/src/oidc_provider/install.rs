//! Finding Node.js and installing the server's npm packages, once per process.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::spawn_log_reader;
use crate::HarnessError;

/// How long `npm ci` may take.
const NPM_TIMEOUT: Duration = Duration::from_secs(300);

/// Looks `name` up in `PATH` as the shell would.
pub(super) fn find_program(name: &str) -> Option<PathBuf> {
    let names: &[String] = &if cfg!(windows) {
        vec![format!("{name}.exe"), format!("{name}.cmd")]
    } else {
        vec![name.to_owned()]
    };
    env::split_paths(&env::var_os("PATH")?)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|path| is_executable(path))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs `npm ci` at most once per process, and only when `node_modules` is not what
/// `package-lock.json` describes. Later calls get the first call's outcome.
pub(super) fn ensure_installed(npm: &Path, dir: &Path) -> Result<(), HarnessError> {
    static INSTALLED: OnceLock<Result<(), (String, String)>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            if is_installed(dir) {
                Ok(())
            } else {
                npm_ci(npm, dir)
            }
        })
        .clone()
        .map_err(|(reason, output)| HarnessError::NpmInstall { reason, output })
}

/// Whether `oidc-provider` is installed and npm's record of `node_modules`
/// (`node_modules/.package-lock.json`) lists exactly the packages of `package-lock.json`.
pub(super) fn is_installed(dir: &Path) -> bool {
    let read = |path: PathBuf| -> Option<Value> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    };
    if !dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        return false;
    }
    let (Some(lock), Some(installed)) = (
        read(dir.join("package-lock.json")),
        read(dir.join("node_modules/.package-lock.json")),
    ) else {
        return false;
    };
    let packages = |v: &Value| {
        v.get("packages").and_then(Value::as_object).map(|p| {
            p.iter()
                // "" is the project itself, which npm does not record under node_modules.
                .filter(|(path, _)| !path.is_empty())
                .map(|(path, entry)| (path.clone(), entry.clone()))
                .collect::<serde_json::Map<_, _>>()
        })
    };
    packages(&lock).is_some_and(|wanted| Some(wanted) == packages(&installed))
}

fn npm_ci(npm: &Path, dir: &Path) -> Result<(), (String, String)> {
    let mut child = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| (format!("cannot run {}: {e}", npm.display()), String::new()))?;
    let output = Arc::new(Mutex::new(String::new()));
    let mut readers = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        readers.push(spawn_log_reader(stdout, "", Arc::clone(&output)));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.push(spawn_log_reader(stderr, "", Arc::clone(&output)));
    }
    let deadline = Instant::now() + NPM_TIMEOUT;
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break Ok(()),
            Ok(Some(status)) => break Err(format!("npm ci exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "npm ci did not finish within {NPM_TIMEOUT:?}; killed"
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("cannot wait for npm ci: {e}"));
            }
        }
    };
    for reader in readers {
        let _ = reader.join();
    }
    let output = output
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    outcome.map_err(|reason| (reason, output))
}
