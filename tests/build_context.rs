//! What boss sends as a build context: the same files, modes and owners as the docker CLI
//! (checked by building one directory both ways and comparing the images), never boss's own
//! state, and streamed, so a huge context costs boss little memory.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixListener;
use std::path::Path;

use crate::common::{FOREIGN_LABEL, Project, docker, try_docker_with_env};

/// The largest peak resident set size boss may reach while sending a 1 GiB context.
const PEAK_MEMORY_LIMIT: u64 = 50 * 1024 * 1024;

/// One service built from `./@DIR@`, kept running so that its image is there to inspect.
const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "app",
    image: "@GROUP@-app:dev",
    build_from: "./@DIR@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

/// Every entry below `/ctx` in `image` as `path mode uid gid type links [size mtime]`, sorted.
/// Directories are listed without their mtime: the engine creates the parents it is not sent
/// (the docker CLI does not send an excluded directory whose exceptions it walks into) with
/// the time of extraction, which differs between two builds.
fn listing(group: &str, image: &str) -> Vec<String> {
    let label = format!("{FOREIGN_LABEL}={group}");
    let script = "cd /ctx && find . -mindepth 1 -type d -exec stat -c '%n %a %u %g %F %h' {} + \
                  && find . -mindepth 1 ! -type d -exec stat -c '%n %a %u %g %F %h %s %Y' {} +";
    let stdout = docker(["run", "--rm", "--label", &label, image, "sh", "-c", script]);
    let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

fn write(root: &Path, relative: &str, contents: &[u8], mode: u32) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().expect("a relative path has a parent")).expect("create the parent");
    fs::write(&path, contents).unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
    set_mode(&path, mode);
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|error| panic!("cannot chmod {}: {error}", path.display()));
}

fn fifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL in the path");
    // SAFETY: `c_path` is a valid NUL-terminated string for the duration of the call.
    let result = unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) };
    assert_eq!(result, 0, "cannot make the FIFO {}: {}", path.display(), std::io::Error::last_os_error());
    set_mode(path, 0o644);
}

/// The `.dockerignore` of the differential test: each line is one of Docker's readings that a
/// glob library or a hand-written reader gets wrong.
const DOCKERIGNORE: &str = "\u{feff}bom-excluded.txt
 # not-a-comment.txt
# a real comment
sub/../secret.txt
{a,b}.txt
[!x].cfg
**/*.log
excluded
partly
!partly/inner/keep.txt
keepdir/*
!keepdir/wanted.txt
Dockerfile
";

/// Writes the differential test's context into `root`; returns the sockets, which must stay
/// bound while the context is sent.
fn write_differential_context(project: &Project, root: &Path) -> Vec<UnixListener> {
    write(root, "Dockerfile", project.expand("FROM @IMAGE@\nCOPY . /ctx/\n").as_bytes(), 0o644);
    write(root, ".dockerignore", DOCKERIGNORE.as_bytes(), 0o644);
    write(root, "secret.key", b"private key\n", 0o600);
    write(root, "setuid-tool", b"#!/bin/sh\n", 0o4755);
    write(root, "private/inside.txt", b"inside\n", 0o644);
    set_mode(&root.join("private"), 0o700);
    write(root, "nested/deeper/group.txt", b"group readable\n", 0o640);
    fs::create_dir(root.join("empty")).expect("create empty/");
    std::os::unix::fs::symlink("secret.key", root.join("link-to-key")).expect("create the symlink");
    write(root, "hard-a", b"hard linked\n", 0o644);
    fs::hard_link(root.join("hard-a"), root.join("hard-b")).expect("create the hard link");
    fifo(&root.join("pipe"));
    let long = format!("long/{}/{}.txt", "d".repeat(80), "f".repeat(60));
    write(root, &long, b"long path\n", 0o644);
    for (name, kept) in [
        ("bom-excluded.txt", false),
        ("# not-a-comment.txt", false),
        ("secret.txt", false),
        ("{a,b}.txt", false),
        ("a.txt", true),
        ("x.cfg", false),
        ("!.cfg", false),
        ("y.cfg", true),
        ("top.log", false),
        ("deep/x.log", false),
        ("deep/kept.txt", true),
        ("partly/inner/keep.txt", true),
        ("partly/inner/drop.txt", false),
        ("keepdir/wanted.txt", true),
        ("keepdir/unwanted.txt", false),
    ] {
        write(root, name, format!("kept: {kept}\n").as_bytes(), 0o644);
    }
    set_mode(&root.join("partly"), 0o700);
    // An excluded directory holds what must not be read: a FIFO (opening it would block), a
    // socket and a large sparse file.
    fs::create_dir(root.join("excluded")).expect("create excluded/");
    fifo(&root.join("excluded/pipe"));
    let sparse = fs::File::create(root.join("excluded/sparse")).expect("create the sparse file");
    sparse.set_len(64 * 1024 * 1024).expect("size the sparse file");
    vec![
        UnixListener::bind(root.join("socket")).expect("bind a socket"),
        UnixListener::bind(root.join("excluded/socket")).expect("bind a socket"),
    ]
}

#[test]
fn boss_sends_the_same_build_context_as_the_docker_cli() {
    let project = Project::new("build_context_cli");
    project.script(&SCRIPT.replace("@DIR@", "ctx"));
    let root = project.path("ctx");
    let _sockets = write_differential_context(&project, &root);
    let group = project.group().to_owned();

    // The CLI, with the classic builder that boss uses too (the engine predates BuildKit as
    // the default); the label lets the group's guard remove the image.
    let cli_image = format!("{group}-cli:dev");
    let label = format!("{FOREIGN_LABEL}={group}");
    let root_arg = root.to_str().expect("a UTF-8 temporary path");
    let args = ["build", "--quiet", "--force-rm", "--label", &label, "--tag", &cli_image, root_arg];
    try_docker_with_env(&[("DOCKER_BUILDKIT", "0")], args).unwrap_or_else(|message| panic!("{message}"));

    project.run(["start"]).success().stderr_contains("app: started in");
    let boss_image = format!("{group}-app:dev");

    let from_cli = listing(&group, &cli_image);
    let from_boss = listing(&group, &boss_image);
    assert_eq!(from_boss, from_cli, "boss's build context differs from the docker CLI's");

    // Both listings are what the context should give, not merely equal.
    let has = |prefix: &str| from_boss.iter().any(|line| line.starts_with(prefix));
    for expected in [
        "./secret.key 600 0 0 regular file 1 ",
        // This engine's builder clears the setuid bit on COPY whatever the context says (the
        // docker CLI's build shows the same); the unit tests check that boss sends it.
        "./setuid-tool 755 0 0 regular file 1 ",
        "./private 700 0 0 directory",
        "./private/inside.txt 644 0 0 regular file",
        "./nested/deeper/group.txt 640 0 0 regular file",
        "./empty 755 0 0 directory",
        "./link-to-key 777 0 0 symbolic link",
        "./hard-a 644 0 0 regular file 2 ",
        "./hard-b 644 0 0 regular file 2 ",
        "./pipe 644 0 0 fifo",
        "./long/dddd",
        "./a.txt ",
        "./y.cfg ",
        "./deep/kept.txt ",
        "./keepdir/wanted.txt ",
        "./partly/inner/keep.txt ",
        // Not sent as an entry, so the engine made it with its default mode.
        "./partly 755 0 0 directory",
    ] {
        assert!(has(expected), "no line starts with {expected:?}:\n{}", from_boss.join("\n"));
    }
    for absent in [
        "./bom-excluded.txt",
        "./# not-a-comment.txt",
        "./secret.txt",
        "./{a,b}.txt",
        "./x.cfg",
        "./!.cfg",
        "./top.log",
        "./deep/x.log",
        "./partly/inner/drop.txt",
        "./keepdir/unwanted.txt",
        "./excluded",
        "./socket",
        "./Dockerfile",
    ] {
        assert!(!has(absent), "{absent:?} was sent:\n{}", from_boss.join("\n"));
    }
}

/// See issue 7: `.boss-context` holds tokens, and `COPY . /app/` put it in the image, readable
/// by any user.
#[test]
fn boss_state_never_enters_an_image() {
    let project = Project::new("build_context_state");
    project.script(&SCRIPT.replace("@DIR@", "."));
    let root = project.dir().to_owned();
    write(&root, "Dockerfile", project.expand("FROM @IMAGE@\nCOPY . /app/\n").as_bytes(), 0o644);
    // Even an explicit exception does not let boss's state in.
    write(&root, ".dockerignore", b"!.boss-context\n!.boss-context*\n!**/.boss-context*\n!.boss\n", 0o644);
    write(&root, ".boss-context", br#"{"api_token":"s3cret"}"#, 0o600);
    write(&root, ".boss-context.other", br#"{"api_token":"s3cret"}"#, 0o600);
    write(&root, ".boss-context.tmp4242", br#"{"api_token":"s3cret"}"#, 0o600);
    write(&root, "sub/.boss-context", br#"{"api_token":"s3cret"}"#, 0o600);
    write(&root, ".boss/state.json", b"{}", 0o600);
    write(&root, "boss-context-notes.txt", b"an ordinary file\n", 0o644);

    project.run(["start"]).success().stderr_contains("app: started in");
    let image = format!("{}-app:dev", project.group());
    let label = format!("{FOREIGN_LABEL}={}", project.group());
    let stdout = docker(["run", "--rm", "--label", &label, &image, "find", "/app"]);
    let mut files: Vec<&str> = stdout.lines().collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "/app",
            "/app/.dockerignore",
            "/app/Dockerfile",
            "/app/boss-context-notes.txt",
            "/app/services.rhai",
            "/app/sub",
        ],
        "boss's state was sent in the build context"
    );
}

/// A 1 GiB file in the context is streamed to the engine, not held in memory.
#[test]
fn a_huge_build_context_is_streamed() {
    let project = Project::new("build_context_huge");
    project.script(&SCRIPT.replace("@DIR@", "big"));
    let root = project.path("big");
    // The Dockerfile does not copy the big file, so the build stays quick; the whole context
    // is still sent, because the engine reads it all before the first step.
    write(&root, "Dockerfile", project.expand("FROM @IMAGE@\nCOPY small.txt /\n").as_bytes(), 0o644);
    write(&root, "small.txt", b"small\n", 0o644);
    let huge = fs::File::create(root.join("huge.bin")).expect("create the huge file");
    huge.set_len(1024 * 1024 * 1024).expect("size the huge file");

    let output = project.run(["start"]);
    let peak = output.peak_memory;
    output.success().stderr_contains("app: started in");
    assert!(
        peak < PEAK_MEMORY_LIMIT,
        "boss peaked at {} MiB sending a 1 GiB context (limit {} MiB)\n{output}",
        peak / (1024 * 1024),
        PEAK_MEMORY_LIMIT / (1024 * 1024)
    );
}

/// A file boss may not read fails the service promptly, naming the file, instead of sending a
/// truncated context or leaving the request hanging.
#[test]
fn an_unreadable_file_fails_the_service_and_names_it() {
    let project = Project::new("build_context_unreadable");
    project.script(&SCRIPT.replace("@DIR@", "app"));
    let root = project.path("app");
    write(&root, "Dockerfile", project.expand("FROM @IMAGE@\nCOPY . /app/\n").as_bytes(), 0o644);
    write(&root, "readable.txt", b"fine\n", 0o644);
    write(&root, "secret.key", b"not for boss\n", 0o000);
    // boss runs as another user and saves its context file next to the script.
    set_mode(project.dir(), 0o777);

    project
        .boss(["start"])
        .unprivileged()
        .run()
        .code(1)
        .stderr_contains("app: failed: cannot use build context `")
        .stderr_contains("`: cannot read `secret.key`: Permission denied")
        .stderr_lacks("app: creating container");
    let image = format!("{}-app:dev", project.group());
    assert!(crate::common::try_docker(["image", "inspect", &image]).is_err(), "`{image}` was built anyway");
}
