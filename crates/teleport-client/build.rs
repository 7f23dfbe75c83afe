//! Compiles the Teleport wire protos with protox, so no `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/wrappers.proto",
        "proto/types.proto",
        "proto/header.proto",
        "proto/access_list.proto",
        "proto/access_monitoring_rules.proto",
        "proto/auth_service.proto",
        "proto/users_service.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    // Server stubs are generated too: the in-process testkit implements them.
    tonic_prost_build::configure()
        // Plugin data as ordered maps, the type plugins keep it in: a write hands its
        // record over as it is instead of copying it into a HashMap.
        .btree_map(".types.PluginDataEntry.Data")
        .btree_map(".types.PluginDataUpdateParams.Set")
        .btree_map(".types.PluginDataUpdateParams.Expect")
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
