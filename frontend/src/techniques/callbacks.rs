//! Technique 1: XMLHttpRequest with callbacks — the original Ajax. The request is sent, and the browser
//! calls back once with the answer: here asked for as XML and read out of the parsed document.

use protocol::lab::EchoRequest;

use crate::api::lab::{EchoMethod, echo_address};
use crate::api::xhr::{self, XhrRequest};

/// Asks for the echo as XML; `on_done` is called once, with what the XML says or why not.
/// `abort()` on the returned request cancels it.
pub fn echo_as_xml(
    request: &EchoRequest,
    on_done: impl FnOnce(Result<String, String>) + 'static,
) -> Result<XhrRequest, String> {
    let address = echo_address(None, EchoMethod::Get, request);
    let sent = xhr::get(&address, "application/xml", move |answer| {
        let read = answer
            .map_err(|error| error.to_string())
            .and_then(|answer| {
                let document = answer.xml.ok_or("the answer is not XML")?;
                let field = |name: &str| {
                    document
                        .get_elements_by_tag_name(name)
                        .item(0)
                        .and_then(|element| element.text_content())
                        .unwrap_or_default()
                };
                Ok(format!(
                    "<echo> with <seq>{}</seq>, waited <delay_ms>{}</delay_ms>",
                    field("seq"),
                    field("delay_ms")
                ))
            });
        on_done(read);
    });
    sent.map_err(|error| error.to_string())
}
