//! The shipped examples and the README's script blocks: every one loads without error, and
//! the quickstart example runs end to end on the real engine.

use std::path::{Path, PathBuf};

use crate::common::{Project, docker, fixture_image, free_port, try_docker};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Loads a script with the library, which never contacts Docker.
fn load(path: &Path) {
    if let Err(error) = boss::Group::load(path) {
        panic!("{} does not load:\n{error}", path.display());
    }
}

#[test]
fn every_example_loads() {
    let mut n_examples = 0;
    for entry in std::fs::read_dir(repository().join("examples")).unwrap() {
        let script = entry.unwrap().path().join("services.rhai");
        if script.exists() {
            load(&script);
            n_examples += 1;
        }
    }
    assert!(n_examples > 0, "no examples found");
}

#[test]
fn every_rhai_block_in_the_readme_loads() {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let blocks: Vec<&str> = readme.split("```rhai\n").skip(1).map(|rest| rest.split("```").next().unwrap()).collect();
    assert!(!blocks.is_empty(), "the README has no rhai block");
    let directory = tempfile::tempdir().unwrap();
    // The blocks that call `compose()` read the README's example compose file.
    let compose =
        readme.split("```yaml\n# docker-compose.yml\n").nth(1).expect("the README has an example compose file");
    std::fs::write(directory.path().join("docker-compose.yml"), compose.split("```").next().unwrap()).unwrap();
    for (index, block) in blocks.iter().enumerate() {
        let path = directory.path().join(format!("readme-{index}.rhai"));
        std::fs::write(&path, block).unwrap();
        load(&path);
    }
}

#[test]
fn quickstart_runs_end_to_end() {
    // The example names the public `busybox:1.36`; without a registry, the local fixture
    // (the same static busybox) stands in under that name, as scripts/local-images.sh does.
    if try_docker(["image", "inspect", "busybox:1.36"]).is_err() {
        docker(["tag", &fixture_image(), "busybox:1.36"]);
    }
    let project = Project::new("quickstart");
    let example = repository().join("examples/quickstart");
    let (store_port, app_port) = (free_port(), free_port());
    let script = std::fs::read_to_string(example.join("services.rhai"))
        .unwrap()
        .replace("group(\"quickstart\")", &format!("group(\"{}\")", project.group()))
        .replace("let store_port = 8080;", &format!("let store_port = {store_port};"))
        .replace("let app_port = 8081;", &format!("let app_port = {app_port};"));
    project.file("services.rhai", &script);
    for file in ["www/index.html", "www/users.json"] {
        project.file(file, &std::fs::read_to_string(example.join(file)).unwrap());
    }

    project
        .run(["start"])
        .success()
        .stderr_contains("store | admin user has id 42")
        .stderr_contains("app: started in")
        .lines_in_order("store: started in", "app: creating container");
    assert_eq!(project.context().map(|text| text.contains("\"admin_id\": 42")), Some(true));
    project.run(["stop", "--remove"]).success();
}
