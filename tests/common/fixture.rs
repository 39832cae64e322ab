//! Builds the fixture image every Docker test runs: a scratch image holding the host's static
//! busybox, so that nothing is ever pulled from a registry.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;

use super::docker::{docker, docker_required, try_docker};

/// Where Debian's `busybox-static` package installs the static binary.
const BUSYBOX_PATH: &str = "/bin/busybox";

/// The fixture's repository name; the tag is a hash of the build inputs.
const REPOSITORY: &str = "boss-test-busybox";

const DOCKERFILE: &str = "\
FROM scratch
COPY busybox /bin/busybox
RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]
";

/// The tag of the fixture image, `boss-test-busybox:<hash>`, building the image first if the
/// daemon does not have it.
///
/// The image has busybox's applets in `/bin` (`sh`, `sleep`, `httpd`, `nc`, ...) and no
/// labels of its own. The tag hashes the busybox binary and the Dockerfile, so a changed input
/// builds a new image and an unchanged one is reused across runs. The work happens once per
/// process; concurrent test processes serialise on a lock file, so only one of them builds.
#[track_caller]
pub(crate) fn fixture_image() -> String {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(ensure_fixture_image).clone()
}

fn ensure_fixture_image() -> String {
    docker_required();
    let busybox = fs::read(BUSYBOX_PATH).unwrap_or_else(|error| {
        panic!(
            "cannot read {BUSYBOX_PATH} ({error}), which the fixture image is built from: \
             install it with `apt-get install busybox-static`"
        )
    });
    let tag = format!("{REPOSITORY}:{:016x}", fnv1a_64(&[&busybox, DOCKERFILE.as_bytes()]));
    if image_exists(&tag) {
        return tag;
    }

    // Another test process may be building the same image right now. Holding an exclusive
    // lock while checking again and building means only one of them does the work, and the
    // tag never moves to a second, identical image.
    let lock_path = std::env::temp_dir().join(format!("{}.lock", tag.replace(':', "-")));
    let lock =
        File::create(&lock_path).unwrap_or_else(|error| panic!("cannot create {}: {error}", lock_path.display()));
    lock.lock().unwrap_or_else(|error| panic!("cannot lock {}: {error}", lock_path.display()));
    if !image_exists(&tag) {
        build(&tag, &busybox);
    }
    tag
}

fn image_exists(tag: &str) -> bool {
    try_docker(["image", "inspect", "--format", "{{.Id}}", tag]).is_ok()
}

fn build(tag: &str, busybox: &[u8]) {
    let context = std::env::temp_dir().join(format!("{}-context-{}", tag.replace(':', "-"), std::process::id()));
    if let Err(error) = write_context(&context, busybox) {
        let _ = fs::remove_dir_all(&context);
        panic!("cannot write the fixture build context {}: {error}", context.display());
    }
    // `--force-rm` keeps a failed RUN step from leaving its unlabelled container behind.
    let build_args = ["build", "--quiet", "--force-rm", "--tag", tag].map(OsStr::new);
    let built = try_docker(build_args.iter().copied().chain([context.as_os_str()]));
    // The context is a scratch copy; failing to remove it must not fail the test.
    let _ = fs::remove_dir_all(&context);
    if let Err(message) = built {
        panic!(
            "cannot build the fixture image {tag}: {message}\n\
             hint: {BUSYBOX_PATH} must be the static build (`apt-get install busybox-static`)"
        );
    }
    // Fail here, not in the first test that runs the image, if the tag did not appear.
    docker(["image", "inspect", "--format", "{{.Id}}", tag]);
}

fn write_context(context: &Path, busybox: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(context)?;
    let busybox_copy = context.join("busybox");
    fs::write(&busybox_copy, busybox)?;
    // COPY keeps the file mode, and the image's RUN must be able to execute the binary.
    fs::set_permissions(&busybox_copy, fs::Permissions::from_mode(0o755))?;
    fs::write(context.join("Dockerfile"), DOCKERFILE)
}

/// The 64-bit FNV-1a hash of the concatenated `parts`: stable across Rust releases (unlike
/// `DefaultHasher`) and needing no dependency. It names a cache entry, so it need not resist
/// collisions made on purpose.
fn fnv1a_64(parts: &[&[u8]]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    parts
        .iter()
        .flat_map(|part| part.iter())
        .fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(PRIME))
}
