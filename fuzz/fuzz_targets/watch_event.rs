//! Any bytes as a watch event from Teleport's event stream: decoded by prost, and an access
//! request in it converted to the client's model, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use teleport_client::convert;
use teleport_client::wire::proto;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(event) = proto::Event::decode(bytes) {
        if let Some(proto::event::Resource::AccessRequest(request)) = event.resource {
            let _ = convert::access_request(request);
        }
    }
});
