//! boss against a floor (issue 11, item 2): six scenarios on the real engine, each run
//! alternately by `boss` (the binary Cargo builds for this bench: the release build under
//! `cargo bench`) and by a floor written with bollard (`scenarios/floor.rs`) that makes only
//! the Docker API calls the work needs. Not a timed test: it prints a table of medians, the
//! boss/floor ratio and boss's peak resident memory (from `wait4`), and never fails on the
//! numbers.
//!
//! - S1: 10 independent services without `ping`;
//! - S2: a chain of 6 HTTP servers, each listening 0.5 s after it starts, pinged over HTTP on
//!   its published port every 10 ms (the floor polls as often);
//! - S3: `start` again while S1 runs (boss's whole process; the floor lists the containers);
//! - S4: `stop --remove` of S1;
//! - S5: 100 services in a graph of depth 5 (and 10, for the cost per service);
//! - S6: S2's chain where every service has its own image, removed before each run and pulled
//!   from a `docker-registry` on 127.0.0.1.
//!
//! boss's time is its process's, from spawn to exit; the floor's is its calls', from an open
//! connection. Between runs everything is removed again (untimed).
//!
//! Run it with `cargo bench --bench scenarios`. `BOSS_BENCH_RUNS` sets the runs per scenario
//! (default 5, medians); `BOSS_BENCH_ONLY=S1,S3` runs only those (S3 and S4 run inside S1's
//! cycle, so they bring its start along). It needs the Docker daemon, the host's static busybox
//! and, for S6, Debian's `docker-registry`, as the integration tests do, whose harness it
//! reuses for the fixture image, the registry, the unique groups and the cleanup by label
//! (also when the bench panics).

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "scenarios/floor.rs"]
mod floor;

use common::{
    Output, Project, Registry, containers, docker, docker_required, fixture_image, remove_group_resources, try_docker,
};
use floor::Floor;

/// The binary under test, built by Cargo with this bench's profile.
const BOSS: &str = env!("CARGO_BIN_EXE_boss");

/// The port every HTTP service listens on inside its container; published on a free host port.
const HTTP_PORT: u16 = 80;

/// What an HTTP service runs: it serves `/` only 0.5 s after it starts.
const HTTP_CMD: &str = "mkdir -p /www && echo ok > /www/index.html && sleep 0.5 && exec httpd -f -p 80 -h /www";

/// Where Debian's `busybox-static` package installs the static binary the S6 images hold.
const BUSYBOX: &str = "/bin/busybox";

/// The scenarios, in the order of the table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
}

impl Scenario {
    const ALL: [Scenario; 6] = [Self::S1, Self::S2, Self::S3, Self::S4, Self::S5, Self::S6];

    fn name(self) -> &'static str {
        match self {
            Self::S1 => "S1",
            Self::S2 => "S2",
            Self::S3 => "S3",
            Self::S4 => "S4",
            Self::S5 => "S5",
            Self::S6 => "S6",
        }
    }
}

/// One service of a shape.
#[derive(Clone, Debug)]
struct Node {
    name: String,
    /// Indices of earlier nodes.
    dependencies: Vec<usize>,
    image: String,
    /// Serves HTTP 0.5 s after its start and is pinged; otherwise sleeps, without `ping`.
    http: bool,
}

impl Node {
    fn cmd(&self) -> Vec<String> {
        if self.http { vec!["sh".into(), "-c".into(), HTTP_CMD.into()] } else { vec!["sleep".into(), "3600".into()] }
    }
}

/// The services of a scenario, for boss's script and the floor alike.
#[derive(Clone, Debug)]
struct Shape {
    nodes: Vec<Node>,
    /// Every image is missing before a run and must be pulled.
    pulled: bool,
}

impl Shape {
    /// `n` services `s0`.. without `ping` in `depth` layers: each service of a layer after the
    /// first depends on two of the layer before.
    fn layered(n: usize, depth: usize) -> Shape {
        let width = n.div_ceil(depth).max(1);
        let nodes = (0..n)
            .map(|index| {
                let (layer, position) = (index / width, index % width);
                let dependencies = if layer == 0 {
                    Vec::new()
                } else {
                    let previous = (layer - 1) * width;
                    let mut dependencies = vec![previous + position, previous + (position + 1) % width];
                    dependencies.dedup();
                    dependencies
                };
                Node { name: format!("s{index}"), dependencies, image: fixture_image(), http: false }
            })
            .collect();
        Shape { nodes, pulled: false }
    }

    /// A chain of HTTP services, `images[i]` for the `i`-th.
    fn http_chain(images: Vec<String>, pulled: bool) -> Shape {
        let nodes = images
            .into_iter()
            .enumerate()
            .map(|(index, image)| Node {
                name: format!("web{index}"),
                dependencies: index.checked_sub(1).into_iter().collect(),
                image,
                http: true,
            })
            .collect();
        Shape { nodes, pulled }
    }

    /// boss's `services.rhai` for the shape, with `@GROUP@` for [`Project::script`].
    fn script(&self) -> String {
        let mut script = String::from("group(\"@GROUP@\");\n");
        for node in &self.nodes {
            let quoted =
                |items: Vec<String>| items.iter().map(|item| format!("{item:?}")).collect::<Vec<_>>().join(", ");
            let dependencies = quoted(node.dependencies.iter().map(|&index| self.nodes[index].name.clone()).collect());
            let http = if node.http {
                format!(
                    "\n    ports: #{{ \"{HTTP_PORT}\": 0 }}, ping_interval: 10,\
                     \n    ping: || http_get(`http://127.0.0.1:${{port({HTTP_PORT})}}/`).status == 200,"
                )
            } else {
                String::new()
            };
            script.push_str(&format!(
                "service(#{{ name: {:?}, image: {:?}, cmd: [{}], stop_signal: \"SIGKILL\", dependencies: [{dependencies}],{http} }});\n",
                node.name,
                node.image,
                quoted(node.cmd()),
            ));
        }
        script
    }
}

/// The timings of one row of the table.
#[derive(Default)]
struct Samples {
    boss: Vec<Duration>,
    floor: Vec<Duration>,
    peak_memory: Vec<u64>,
}

impl Samples {
    fn boss(&mut self, output: &Output) {
        assert_eq!(output.exit_code, Some(0), "`{}` failed\n{output}", output.command);
        self.boss.push(output.elapsed);
        self.peak_memory.push(output.peak_memory);
    }
}

/// The runtime and connection the floor runs on.
struct Bench {
    runtime: tokio::runtime::Runtime,
    floor: Floor,
    runs: usize,
}

impl Bench {
    /// Times the floor's `work`.
    fn floor<F: Future<Output = ()>>(&self, work: impl FnOnce(Floor) -> F) -> Duration {
        let floor = self.floor.clone();
        let began = Instant::now();
        self.runtime.block_on(work(floor));
        began.elapsed()
    }

    /// S1, S3 and S4 in one cycle per run: start, start again, stop --remove.
    fn s1_s3_s4(&self) -> [Samples; 3] {
        let shape = &Shape::layered(10, 1);
        let (boss, floor) = (Project::new("bench_s1"), Project::new("bench_s1_floor"));
        boss.script(&shape.script());
        let mut samples: [Samples; 3] = Default::default();
        for run in 0..self.runs {
            let boss_cycle = |samples: &mut [Samples; 3]| {
                samples[0].boss(&boss.run(["start"]));
                samples[1].boss(&boss.run(["start"]));
                samples[2].boss(&boss.run(["stop", "--remove"]));
            };
            let floor_cycle = |samples: &mut [Samples; 3]| {
                let group = floor.group();
                samples[0].floor.push(self.floor(|floor| async move { floor.start(group, shape).await }));
                samples[1].floor.push(self.floor(|floor| async move { floor.look(group).await }));
                samples[2].floor.push(self.floor(|floor| async move { floor.stop_remove(group).await }));
            };
            alternate(run, &mut samples, boss_cycle, floor_cycle);
        }
        samples
    }

    /// One timed `start` of `shape` per run each, everything removed between runs and, before
    /// each run, `before` (S6 removes its images).
    fn starts(&self, name: &str, shape: &Shape, before: &dyn Fn()) -> Samples {
        let (boss, floor) = (Project::new(name), Project::new(&format!("{name}_floor")));
        boss.script(&shape.script());
        let mut samples = Samples::default();
        for run in 0..self.runs {
            let boss_run = |samples: &mut Samples| {
                before();
                samples.boss(&boss.run(["start"]));
                cleaned(&boss, &boss.run(["stop", "--remove"]));
            };
            let floor_run = |samples: &mut Samples| {
                before();
                let group = floor.group();
                samples.floor.push(self.floor(|floor| async move { floor.start(group, shape).await }));
                if let Err(problem) = remove_group_resources(group) {
                    // As in `cleaned`: a stale endpoint can keep the network; the floor names a new one.
                    assert!(containers(group).is_empty(), "cleaning up after the floor failed: {problem}");
                    eprintln!("warning: cleaning up after the floor: {problem}");
                }
            };
            alternate(run, &mut samples, boss_run, floor_run);
        }
        samples
    }
}

/// Checks that `stop --remove` left none of `project`'s containers. Its exit status is not
/// enough: Docker 20.10 sometimes keeps a stale endpoint on a network whose containers are all
/// gone, and then refuses to remove the network, which boss's next start uses again.
fn cleaned(project: &Project, stopped: &Output) {
    let left = containers(project.group());
    assert!(left.is_empty(), "cleaning up after boss left {left:?}\n{stopped}");
    if stopped.exit_code != Some(0) {
        eprintln!("warning: `{}` failed, but removed every container:\n{}", stopped.command, stopped.stderr.trim_end());
    }
}

/// Runs boss first in even runs and the floor first in odd ones, so neither always finds the
/// engine fresher.
fn alternate<T>(run: usize, samples: &mut T, boss: impl FnOnce(&mut T), floor: impl FnOnce(&mut T)) {
    if run.is_multiple_of(2) {
        boss(samples);
        floor(samples);
    } else {
        floor(samples);
        boss(samples);
    }
}

/// The images of S6: six distinct one-layer images (busybox and an id file) pushed to
/// `registry` and removed locally, so that every pull fetches its whole layer. Labelled for
/// `images`' guard, which removes what a run pulled.
fn s6_images(registry: &Registry, images: &Project) -> Vec<String> {
    let busybox = std::fs::read(BUSYBOX).unwrap_or_else(|error| {
        panic!("cannot read {BUSYBOX} ({error}): install it with `apt-get install busybox-static`")
    });
    (0..6)
        .map(|index| {
            let context = format!("image{index}");
            images.file(format!("{context}/rootfs/id"), &format!("{} {index}\n", images.group()));
            let bin = images.path(format!("{context}/rootfs/bin"));
            std::fs::create_dir_all(&bin).expect("create the image's /bin");
            let binary = bin.join("busybox");
            std::fs::write(&binary, &busybox).expect("write busybox");
            std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("chmod busybox");
            for applet in ["sh", "mkdir", "sleep", "httpd"] {
                std::os::unix::fs::symlink("busybox", images.path(format!("{context}/rootfs/bin/{applet}")))
                    .expect("link an applet");
            }
            images.file(
                format!("{context}/Dockerfile"),
                &format!("FROM scratch\nCOPY rootfs/ /\nLABEL boss-test.group={}\n", images.group()),
            );
            let local = format!("{}-s6-{index}:bench", images.group());
            docker(["build", "--quiet", "--tag", &local, &images.path(&context).display().to_string()]);
            let reference = registry.push(&local, &format!("bench-s6-{index}"), "bench");
            docker(["rmi", &local]);
            reference
        })
        .collect()
}

/// Removes `images` locally, if there.
fn remove_images(images: &[String]) {
    for image in images {
        let _ = try_docker(["rmi", "--force", image]);
    }
}

/// One row of the table, printed as soon as its scenario has run.
fn print_row(text: &str, samples: &Samples, target: &str) {
    let (boss, floor) = (median(&samples.boss), median(&samples.floor));
    let peak = samples.peak_memory.iter().max().copied().unwrap_or(0) as f64 / f64::from(1 << 20);
    let ratio = boss.as_secs_f64() / floor.as_secs_f64().max(f64::EPSILON);
    println!("| {text} | {:.1} | {:.1} | {ratio:.2}× | {peak:.1} | {target} |", ms(boss), ms(floor));
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The machine, for the README.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .map(|line| line.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let engine = try_docker(["version", "--format", "{{.Server.Version}}"]).unwrap_or_default();
    format!("{cores} × {cpu}, Docker Engine {}", engine.trim())
}

fn main() {
    docker_required();
    let runs: usize = std::env::var("BOSS_BENCH_RUNS").ok().and_then(|runs| runs.parse().ok()).unwrap_or(5).max(1);
    let only: Vec<Scenario> = match std::env::var("BOSS_BENCH_ONLY") {
        Ok(list) if !list.trim().is_empty() => {
            list.split(',')
                .map(|name| {
                    let name = name.trim();
                    *Scenario::ALL.iter().find(|scenario| scenario.name().eq_ignore_ascii_case(name)).unwrap_or_else(
                        || panic!("BOSS_BENCH_ONLY: unknown scenario {name:?}; the scenarios are S1 to S6"),
                    )
                })
                .collect()
        }
        _ => Scenario::ALL.to_vec(),
    };
    let wanted = |scenario: Scenario| only.contains(&scenario);
    // Before anything runs, so that a missing registry fails at once.
    let registry = wanted(Scenario::S6).then(Registry::start);
    assert!(Path::new(BOSS).is_file(), "{BOSS} is missing");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let floor = runtime.block_on(async { Floor::connect() });
    let bench = Bench { runtime, floor, runs };
    println!("boss: {BOSS}\nmachine: {}\n{runs} runs per scenario, alternating boss and floor; medians\n", machine());

    // Built and pushed before anything is timed, so that a problem with them shows at once.
    let images = Project::new("bench_s6_images");
    let references = registry.as_ref().map(|registry| s6_images(registry, &images));

    println!("| scenario | boss ms | floor ms | boss/floor | boss peak RSS MiB | target |");
    println!("|---|---:|---:|---:|---:|---|");
    if wanted(Scenario::S1) || wanted(Scenario::S3) || wanted(Scenario::S4) {
        let [s1, s3, s4] = bench.s1_s3_s4();
        for (scenario, samples, text, target) in [
            (Scenario::S1, s1, "S1 10 independent, no ping: start", "≤ 1.05×, < 20 MiB"),
            (Scenario::S3, s3, "S3 start again, all running", "< 25 ms, < 20 MiB"),
            (Scenario::S4, s4, "S4 stop --remove of S1", "≤ 1.05×, < 20 MiB"),
        ] {
            if wanted(scenario) {
                print_row(text, &samples, target);
            }
        }
    }
    if wanted(Scenario::S2) {
        let shape = Shape::http_chain(vec![fixture_image(); 6], false);
        print_row("S2 chain of 6 HTTP, pinged", &bench.starts("bench_s2", &shape, &|| {}), "≤ 1.05×, < 20 MiB");
    }
    let mut per_service = Vec::new();
    if wanted(Scenario::S5) {
        for n in [10, 100] {
            let samples = bench.starts(&format!("bench_s5_{n}"), &Shape::layered(n, 5), &|| {});
            per_service.push((n, median(&samples.boss) / n as u32, median(&samples.floor) / n as u32));
            print_row(&format!("S5 {n} services, depth 5"), &samples, "≤ 1.05×, flat per service");
        }
    }
    if let Some(references) = &references {
        let shape = Shape::http_chain(references.clone(), true);
        let samples = bench.starts("bench_s6", &shape, &|| remove_images(references));
        remove_images(references);
        print_row("S6 S2 with 6 images pulled", &samples, "≤ 1.05×");
    }
    if let [(small, boss_small, floor_small), (large, boss_large, floor_large)] = per_service[..] {
        println!(
            "\nS5 per service: boss {:.1} ms at {small}, {:.1} ms at {large} ({:.2}×); floor {:.1} ms at {small}, {:.1} ms at {large}",
            ms(boss_small),
            ms(boss_large),
            boss_large.as_secs_f64() / boss_small.as_secs_f64().max(f64::EPSILON),
            ms(floor_small),
            ms(floor_large),
        );
    }
    println!("\npeak RSS is the largest of the runs; the machine is shared, so the numbers are noisy");
}
