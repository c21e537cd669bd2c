//! The examples that talk to a server, run against the bundled one: each adapter's
//! client-credentials and device-login examples, and the blocking adapter's password grant and
//! token persistence. (The command-line login examples need a browser; the code flow they
//! drive runs in the table's OpenID Connect scenarios.)

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oauth_tests::oidc_provider::AuthServer;

use crate::start_server;

/// The path of the example binary `name`, built by `cargo test --workspace` next to this test
/// binary.
pub(crate) fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    let dir: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is built by `cargo test --workspace`",
        path.display()
    );
    path
}

/// The example binary `name`, its output piped.
fn example(name: &str) -> Command {
    let mut command = Command::new(example_path(name));
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Waits for `child` (at most 60 s, then kills it) and returns its standard output.
fn finish(name: &str, mut child: Child) -> String {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let output = child.wait_with_output().expect("output");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                status.success(),
                "example {name} failed: {status}\nstdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            return stdout;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("example {name} did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(name: &str, configure: impl FnOnce(&mut Command)) -> String {
    let mut command = example(name);
    configure(&mut command);
    finish(name, command.spawn().expect("spawn"))
}

#[test]
fn client_credentials_examples_get_the_resource_in_every_adapter() {
    let server = start_server(Duration::from_secs(30));
    let ureq = run("client_credentials", |c| {
        c.env("TOKEN_ENDPOINT", server.token_endpoint())
            .env("RESOURCE", server.resource_url());
    });
    assert!(ureq.starts_with("200"), "{ureq}");
    let reqwest = run("reqwest_client_credentials", |c| {
        c.env("OAUTH_ISSUER", server.issuer());
    });
    assert_eq!(reqwest.matches(": 200 OK").count(), 40, "{reqwest}");
    let async_std = run("async_std_client_credentials", |c| {
        c.args([server.token_endpoint(), server.resource_url()]);
    });
    assert_eq!(async_std.matches("200 OK").count(), 3, "{async_std}");
    assert!(
        server
            .stats()
            .expect("stats")
            .token_requests("client_credentials")
            >= 3
    );
}

#[test]
fn the_password_grant_and_token_persistence_examples_work() {
    let server = start_server(Duration::from_secs(30));
    let seed = run("password_grant", |c| {
        c.env("TOKEN_ENDPOINT", server.token_endpoint())
            .env("RESOURCE", server.users_count_url());
    });
    assert_eq!(seed.matches("200 OK 1").count(), 3, "{seed}");
    let file = std::env::temp_dir().join(format!(
        "oauth-rs-example-token-{}.json",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&file);
    let first = run("persist_tokens", |c| {
        c.env("OAUTH_ISSUER", server.issuer())
            .env("TOKEN_FILE", &file);
    });
    assert!(first.contains("token from the password grant"), "{first}");
    assert!(first.contains("GET /resource 200"), "{first}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file)
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "owner-only: {mode:o}");
    }
    let before = server.stats().expect("stats").token_requests("password");
    let second = run("persist_tokens", |c| {
        c.env("OAUTH_ISSUER", server.issuer())
            .env("TOKEN_FILE", &file);
    });
    assert!(second.contains("token from"), "{second}");
    assert!(second.contains("GET /resource 200"), "{second}");
    assert_eq!(
        server.stats().expect("stats").token_requests("password"),
        before,
        "the second run signed in no more"
    );
    let _ = std::fs::remove_file(&file);
}

/// Runs a device-login example, approving the code it prints through the test server.
fn device_login(server: &AuthServer, name: &str) {
    let mut child = example(name)
        .env("OAUTH_ISSUER", server.issuer())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let code = loop {
        let line = lines
            .next()
            .expect("the example printed its code")
            .expect("a line");
        if let Some((_, code)) = line.split_once("enter the code ") {
            break code.trim().to_owned();
        }
    };
    server.approve_device(&code).expect("approved");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let output = finish(name, child);
    let all = format!("{output}{}", rest.join("\n"));
    assert!(all.contains("Signed in"), "{name}: {all}");
}

#[test]
fn device_login_examples_sign_in_once_the_code_is_approved() {
    let server = start_server(Duration::from_secs(30));
    for name in [
        "device_login",
        "reqwest_device_login",
        "async_std_device_login",
    ] {
        device_login(&server, name);
    }
}

#[test]
fn the_web_login_example_keeps_each_visitors_login_server_side() {
    use http::Request;
    use oauth_tests::browser::follow_to_callback;
    use oauth_tests::http1;

    let server = start_server(Duration::from_secs(30));
    let mut child = example("web_login")
        .env("OAUTH_ISSUER", server.issuer())
        .env("LISTEN", "127.0.0.1:0")
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let line = BufReader::new(stdout)
        .lines()
        .next()
        .expect("the example printed its address")
        .expect("a line");
    let login_url = line.trim_start_matches("open ").trim().to_owned();
    let base = login_url.trim_end_matches("/login").to_owned();
    let get = |url: &str, cookie: Option<&str>| {
        let mut request = Request::get(url);
        if let Some(cookie) = cookie {
            request = request.header(http::header::COOKIE, cookie);
        }
        http1::send(&request.body(Vec::new()).expect("request"), crate::TIMEOUT).expect("send")
    };
    let start = get(&login_url, None);
    assert_eq!(start.status(), 302);
    let cookie = start.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let provider = start.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let callback = follow_to_callback(&provider, &format!("{base}/callback")).expect("login");
    // Another visitor's cookie does not complete this login.
    assert_eq!(get(&callback, Some("login=someone-else")).status(), 400);
    let done = get(&callback, Some(&cookie));
    let body = String::from_utf8_lossy(done.body()).into_owned();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(done.status(), 200, "{body}");
    assert_eq!(body.trim(), "signed in as admin");
}
