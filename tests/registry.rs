//! Self-tests of the registry harness in `common`: a real local registry that the Docker
//! daemon pushes to and pulls from, and that a test can take away.

use crate::common::{Registry, docker, fixture_image, try_docker};

fn image_exists(reference: &str) -> bool {
    try_docker(["image", "inspect", "--format", "{{.Id}}", reference]).is_ok()
}

/// Removes a local image tag when dropped, so that a failing test leaves none behind.
struct UntagOnDrop(String);

impl Drop for UntagOnDrop {
    fn drop(&mut self) {
        if image_exists(&self.0)
            && let Err(problem) = try_docker(["rmi", &self.0])
        {
            eprintln!("warning: {problem}");
        }
    }
}

#[test]
fn pushed_image_is_pulled_from_the_registry_until_it_stops() {
    let image = fixture_image();
    let mut registry = Registry::start();
    let reference = registry.push(&image, "boss-test/busybox", "1");
    let _untag = UntagOnDrop(reference.clone());
    assert_eq!(reference, format!("{}/boss-test/busybox:1", registry.address()));
    assert!(!image_exists(&reference), "push must leave no local tag {reference}");

    docker(["pull", "--quiet", &reference]);
    assert!(image_exists(&reference), "`docker pull {reference}` left no local image");
    assert_eq!(
        docker(["image", "inspect", "--format", "{{.Id}}", &reference]),
        docker(["image", "inspect", "--format", "{{.Id}}", &image]),
        "the pulled image must be the pushed one"
    );
    docker(["rmi", &reference]);
    assert!(!image_exists(&reference));

    registry.stop();
    let pulled = try_docker(["pull", "--quiet", &reference]);
    assert!(pulled.is_err(), "`docker pull {reference}` worked with the registry stopped: {pulled:?}");
    assert!(!image_exists(&reference));
    // Stopping again, and the drop after it, must do nothing.
    registry.stop();
}
