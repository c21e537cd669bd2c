//! oauth-core's integration tests: exact request bytes, recorded server bodies, refresh
//! decisions over simulated time, and property tests of every parser.

mod dpop;
mod flows;
mod grants;
mod properties;
mod requests;
mod responses;
mod session;
mod store;

use http::Request;

/// A request as text: method and URI, headers in order, a blank line, the body.
pub(crate) fn render(request: &Request<Vec<u8>>) -> String {
    let mut text = format!("{} {}\n", request.method(), request.uri());
    for (name, value) in request.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            value.to_str().expect("ascii header")
        ));
    }
    text.push('\n');
    text.push_str(std::str::from_utf8(request.body()).expect("utf-8 body"));
    text
}

pub(crate) fn response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> http::Response<Vec<u8>> {
    let mut builder = http::Response::builder().status(status);
    if let Some(content_type) = content_type {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    builder.body(body.to_vec()).expect("valid response")
}
