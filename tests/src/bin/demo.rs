//! The demo: starts the bundled test authorization server (panva's oidc-provider) on
//! 127.0.0.1 and runs the seed scenario through `oauth-ureq`, printing each step.
//!
//! `cargo run -p oauth-tests --bin demo`

use std::process::ExitCode;
use std::time::Duration;

use oauth_tests::oidc_provider::AuthServer;
use oauth_tests::seed::{run_seed_scenario, tail};
use oauth_tests::ureq_driver::UreqDriver;
use oauth_ureq::OAuth2Session;

fn main() -> ExitCode {
    println!("starting the local authorization server (oidc-provider, 5 s access tokens) …");
    let server = match AuthServer::start(Duration::from_secs(5)) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("could not start the test authorization server: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("issuer {}\n", server.issuer());
    let session = OAuth2Session::builder("admin-cli")
        .token_endpoint(&server.token_endpoint())
        // The seed's leeway of 60 s: on a 5 s token it is clamped to half the lifetime.
        .leeway(Duration::from_secs(60))
        .on_token_update(|update| {
            println!(
                "  [hook] token {:?}: access token {}",
                update.kind(),
                tail(update.new_token().access_token().secret())
            );
        })
        .build();
    let session = match session {
        Ok(session) => session,
        Err(e) => {
            eprintln!("invalid session configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut demo = UreqDriver { session };
    let mut step = 0;
    let outcome = run_seed_scenario(&server, &mut demo, &mut |line| {
        step += 1;
        println!("{step}. {line}");
    });
    match outcome {
        Ok(()) => {
            println!("\nthe seed scenario ran against the real server");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "\nthe seed scenario failed: {e}\n---- server log ----\n{}",
                server.log()
            );
            ExitCode::FAILURE
        }
    }
}
