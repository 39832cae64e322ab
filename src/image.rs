//! Getting a service's image: reference parsing, when to build, building from `build_from`
//! (with the tags that tell builds apart) and pulling. Engine-level; Docker is reached only
//! through [`Backend`].

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::backend::{Backend, BackendResult, BuildSpec, ContainerInfo, ContainerState, label};
use crate::build_context::ContextPlan;
use crate::error::{ContextProblem, ServiceFailure};
use crate::event::{EventSink, ServiceChange};
use crate::ownership::Definition;
use crate::plan::ContextHashes;
use crate::service::Service;

/// How long marking a failed build's leftovers may take; the marker is one `LABEL` step per
/// label, normally done in a second or two.
const MARK_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// How many lines of builder output a failed build shows.
const BUILD_LINES: usize = 10;

/// Splits `repo[:tag]` (a digest reference has no tag); a reference without a tag means
/// `latest`.
pub(crate) fn split_reference(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    let last_slash = image.rfind('/').map_or(0, |index| index + 1);
    match image[last_slash..].rfind(':') {
        Some(colon) => (&image[..last_slash + colon], &image[last_slash + colon + 1..]),
        None => (image, "latest"),
    }
}

/// Whether `image` looks like a reference Docker accepts: `[registry[:port]/]path[:tag][@digest]`
/// with a lowercase path and no spaces. The engine has the last word; this catches typos early.
pub(crate) fn is_valid_reference(image: &str) -> bool {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    if digest.is_some_and(|digest| !digest.contains(':') || digest.chars().any(char::is_whitespace)) {
        return false;
    }
    let (path, tag) = if digest.is_some() { (name, "latest") } else { split_reference(name) };
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !tag.starts_with(['.', '-']);
    let mut components: Vec<&str> = path.split('/').collect();
    // A first component with a dot or a colon, or `localhost`, is a registry host.
    if components.len() > 1 && (components[0].contains(['.', ':']) || components[0] == "localhost") {
        let host = components.remove(0);
        if host.is_empty() || host.chars().any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-'))) {
            return false;
        }
    }
    let path_ok = components.iter().all(|component| {
        !component.is_empty()
            && component.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
            && component.starts_with(|c: char| c.is_ascii_alphanumeric())
            && component.ends_with(|c: char| c.is_ascii_alphanumeric())
    });
    tag_ok && path_ok
}

/// Whether `start` builds this service's image even when it is present: `build_from` is set and
/// the tag is `latest` (written or implied), which says "whatever the source is now".
pub(crate) fn builds_on_every_start(service: &Service) -> bool {
    service.build_from.is_some() && split_reference(&service.image).1 == "latest"
}

/// The tags of a build: the image reference the service declares, so later starts use the new
/// build, and `<repository>:boss-<UTC time>`, so builds can be told apart.
pub(crate) fn build_tags(image: &str, now: SystemTime) -> Vec<String> {
    let (repository, tag) = split_reference(image);
    let stamp: String =
        humantime::format_rfc3339_seconds(now).to_string().chars().filter(char::is_ascii_digit).collect();
    let stamp = format!("{}-{}", &stamp[..8], &stamp[8..]);
    vec![format!("{repository}:{tag}"), format!("{repository}:boss-{stamp}")]
}

/// The time stamp of a `<repository>:boss-<date>-<time>` build tag (`20261118-110640`), or
/// `None` for any other reference.
pub(crate) fn build_stamp(reference: &str) -> Option<&str> {
    let stamp = split_reference(reference).1.strip_prefix("boss-")?;
    let shape_ok = stamp.len() == 15
        && stamp.char_indices().all(|(index, c)| if index == 8 { c == '-' } else { c.is_ascii_digit() });
    shape_ok.then_some(stamp)
}

/// The tag of the image that marks a failed build's leftovers: `<repository>:boss-failed-<stamp>`.
fn failed_build_tag(build_tag: &str) -> String {
    let (repository, tag) = split_reference(build_tag);
    format!("{repository}:{}", tag.replacen("boss-", "boss-failed-", 1))
}

/// The image id in a classic builder's ` ---> 3f2a1b4c5d6e` line (each step's result), if the
/// line is one.
fn step_image(line: &str) -> Option<&str> {
    let id = line.trim().strip_prefix("---> ")?;
    (id.len() >= 12 && id.chars().all(|c| c.is_ascii_hexdigit())).then_some(id)
}

/// The last image of every stage of a build so far, read from the classic builder's output:
/// what a failed build leaves as untagged leaves (the last stage's, and each earlier stage's,
/// which only the final stage would have used).
#[derive(Debug, Default)]
struct StageEnds {
    /// The last image of each stage before the current one.
    ended: Vec<String>,
    /// The current stage's last image so far.
    current: Option<String>,
}

impl StageEnds {
    fn see(&mut self, line: &str) {
        if let Some(id) = step_image(line) {
            self.current = Some(id.to_string());
        } else if let Some((step, instruction)) = line.split_once(" : ")
            && step.starts_with("Step ")
            && instruction.get(..5).is_some_and(|word| word.eq_ignore_ascii_case("FROM "))
            && let Some(id) = self.current.take()
        {
            self.ended.push(id);
        }
    }

    fn into_leaves(self) -> Vec<String> {
        let mut leaves = self.ended;
        leaves.extend(self.current);
        leaves.dedup();
        leaves
    }
}

/// Builds the service's image from `build_from`, showing the builder's output under the
/// service's name. Returns the new image id.
pub(crate) async fn build<B: Backend>(
    backend: &B,
    group: &str,
    project_dir: &str,
    service: &Service,
    events: &EventSink,
) -> Result<String, ServiceFailure> {
    let never = tokio_util::sync::CancellationToken::new();
    build_unless_cancelled(backend, group, project_dir, service, events, &never).await?.ok_or(ServiceFailure::Cancelled)
}

/// [`build`], abandoned (`Ok(None)`) when `cancel` fires: the request is dropped, so the engine
/// stops building. What a failed or abandoned build left is marked for `boss gc`.
pub(crate) async fn build_unless_cancelled<B: Backend>(
    backend: &B,
    group: &str,
    project_dir: &str,
    service: &Service,
    events: &EventSink,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Option<String>, ServiceFailure> {
    let directory = service.build_from.as_ref().map(|directory| directory.display().to_string()).unwrap_or_default();
    let context_failure =
        |problem: ContextProblem| ServiceFailure::BuildContext { directory: directory.clone(), problem };
    let (dockerfile, plan) = context_plan(service).map_err(context_failure)?;
    // The image records the hash of its context, so `status` can tell when the sources changed
    // since. The files are read for it here, and again while they are sent.
    let (plan, context_hash) = tokio::task::spawn_blocking(move || {
        let hash = crate::build_context::hash(&plan);
        (plan, hash)
    })
    .await
    .map_err(|error| ServiceFailure::TaskCrashed { reason: error.to_string() })?;
    let context_hash = context_hash.map_err(context_failure)?;

    let tags = build_tags(&service.image, SystemTime::now());
    events.service(&service.name, ServiceChange::Building { image: tags[0].clone(), tag: tags[1].clone() });
    let mut labels = crate::ownership::service_labels(group, &service.name);
    labels.insert(label::PROJECT_DIR.to_string(), project_dir.to_string());
    labels.insert(label::BUILD_CONTEXT.to_string(), context_hash);
    if let Some(options) = build_options_hash(&service.build) {
        labels.insert(label::BUILD_OPTIONS.to_string(), options);
    }
    let spec =
        BuildSpec { dockerfile, tags, labels, args: service.build.args.clone(), target: service.build.target.clone() };
    let last_lines = Mutex::new(VecDeque::with_capacity(BUILD_LINES));
    let stage_ends = Mutex::new(StageEnds::default());
    let output = |line: &str| {
        let line = &strip_escapes(line);
        stage_ends.lock().unwrap_or_else(std::sync::PoisonError::into_inner).see(line);
        events.service(&service.name, ServiceChange::BuildOutput { line: line.to_string() });
        let mut last_lines = last_lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last_lines.len() == BUILD_LINES {
            last_lines.pop_front();
        }
        last_lines.push_back(line.to_string());
    };
    let (context, report) = crate::build_context::start(plan);
    let result = tokio::select! {
        result = backend.build_image(context, &spec, &output) => Some(result),
        () = cancel.cancelled() => None,
    };
    if !matches!(result, Some(Ok(_))) {
        let leaves = stage_ends.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).into_leaves();
        // A stalled engine must not hold the build's own failure back for long.
        let marking = async {
            for leaf in &leaves {
                mark_failed_build(backend, leaf, &spec).await;
            }
        };
        if tokio::time::timeout(MARK_TIME, marking).await.is_err() {
            tracing::debug!(?leaves, "gave up marking the failed build's leftovers");
        }
    }
    let Some(result) = result else { return Ok(None) };
    // A context that could not be read fails the request; the engine's words for that say
    // nothing useful, the recorded problem names the file.
    if let Some(problem) = report.problem() {
        return Err(context_failure(problem));
    }
    result.map(Some).map_err(|error| ServiceFailure::Build {
        message: error.message,
        last_lines: last_lines.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).into(),
    })
}

/// The service's build context, checked, with its `.dockerignore` read (nothing else is read
/// yet), and the Dockerfile's path inside it.
fn context_plan(service: &Service) -> Result<(String, ContextPlan), ContextProblem> {
    let Some(directory) = &service.build_from else { return Err(ContextProblem::NotSet) };
    if !directory.is_dir() {
        return Err(ContextProblem::NotADirectory);
    }
    if !directory.join(&service.dockerfile).is_file() {
        return Err(ContextProblem::NoDockerfile { dockerfile: service.dockerfile.clone() });
    }
    // The engine finds the Dockerfile by its path inside the context, as the docker CLI sends
    // it: relative and cleaned (`./docker/../Dockerfile` is `Dockerfile`).
    let dockerfile = crate::build_context::dockerfile_in_context(directory, &service.dockerfile)
        .ok_or_else(|| ContextProblem::DockerfileOutside { dockerfile: service.dockerfile.clone() })?;
    let plan = crate::build_context::plan(directory, &dockerfile)?;
    Ok((dockerfile, plan))
}

/// For a `build_from` service with a running (or paused) container: the context hash its image
/// was built from and the hash of its context now, for the planner to compare. `None` for
/// other services, for an image boss did not build (or built before it recorded hashes), and
/// for a context that cannot be read now (the next build reports that). Reads the whole
/// context (on a blocking thread), never the engine beyond one image lookup.
pub(crate) async fn observe_build_context<B: Backend>(
    backend: &B,
    service: &Service,
    containers: &[ContainerInfo],
) -> BackendResult<Option<ContextHashes>> {
    if service.build_from.is_none() {
        return Ok(None);
    }
    let Some(running) =
        containers.iter().find(|container| matches!(container.state, ContainerState::Running | ContainerState::Paused))
    else {
        return Ok(None);
    };
    // The image the container runs, as recorded when it was created; else the declared tag.
    let recorded = running.labels.get(label::DEFINITION).and_then(|text| Definition::from_label(text));
    let image = recorded.and_then(|definition| definition.image_id).unwrap_or_else(|| service.image.clone());
    let Some(built) = backend.image_label(&image, label::BUILD_CONTEXT).await? else { return Ok(None) };
    let options_built = backend.image_label(&image, label::BUILD_OPTIONS).await?;
    let options_now = build_options_hash(&service.build);
    let service = service.clone();
    let now = tokio::task::spawn_blocking(move || {
        context_plan(&service).and_then(|(_, plan)| crate::build_context::hash(&plan)).ok()
    })
    .await
    .ok()
    .flatten();
    Ok(now.map(|now| ContextHashes { built, now, options_built, options_now }))
}

/// A hash of a build's `build_args` and `build_target`, recorded on the image; `None` when
/// there are none (so images built before they existed compare equal).
pub(crate) fn build_options_hash(options: &crate::service::BuildOptions) -> Option<String> {
    use sha2::Digest as _;
    if options.is_empty() {
        return None;
    }
    let text = serde_json::json!({ "args": options.args, "target": options.target }).to_string();
    Some(sha2::Sha256::digest(text.as_bytes()).iter().take(8).map(|byte| format!("{byte:02x}")).collect())
}

/// Makes what a failed build left recognisable. The classic builder keeps the image of every
/// step that succeeded, untagged and without the build's labels (it applies them in a last
/// step), so nothing says they are boss's. When the last image of a stage (`step`) is such an
/// untagged leftover, boss builds a child of it carrying the build's labels plus
/// `boss.build=failed`, tagged `<repository>:boss-failed-<stamp>` (a later stage's marker takes
/// the tag over; the labels still find the earlier one). Removing that child (`boss gc`, or `docker rmi`)
/// lets the engine prune the untagged parents nothing else uses, and only those. Best effort:
/// the build's own failure is what the user is told about.
async fn mark_failed_build<B: Backend>(backend: &B, step: &str, build: &BuildSpec) {
    let leftover = match backend.image_info(step).await {
        Ok(Some(image)) if image.tags.is_empty() => image.id,
        // A tagged image (the base of a build whose first step failed) is nobody's leftover.
        _ => return,
    };
    let Some(tag) = build.tags.get(1).map(|tag| failed_build_tag(tag)) else { return };
    let mut labels = build.labels.clone();
    labels.insert(label::BUILD.to_string(), label::FAILED_BUILD.to_string());
    let marker =
        BuildSpec { dockerfile: "Dockerfile".to_string(), tags: vec![tag], labels, args: Vec::new(), target: None };
    let dockerfile = format!("FROM {leftover}\n");
    let result = match dockerfile_tar(&dockerfile) {
        Ok(tar) => {
            let context = futures_util::StreamExt::boxed(futures_util::stream::once(async move { Ok(tar) }));
            backend.build_image(context, &marker, &|_: &str| {}).await.map(|_| ())
        }
        Err(error) => Err(crate::backend::BackendError::other(error.to_string())),
    };
    if let Err(error) = result {
        tracing::debug!(%error, step, "could not mark the failed build's leftovers");
    }
}

/// A build context holding only `Dockerfile`.
fn dockerfile_tar(dockerfile: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;
    builder.into_inner()
}

/// Removes terminal escape sequences (the builder colours a failing command's output), which
/// would otherwise garble messages and logs.
fn strip_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // CSI sequences (`ESC [ ... final`) end with a letter; other escapes are two characters.
        if chars.clone().next() == Some('[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// Pulls the service's image.
pub(crate) async fn pull<B: Backend>(backend: &B, service: &Service, events: &EventSink) -> Result<(), ServiceFailure> {
    events.service(&service.name, ServiceChange::Pulling { image: service.image.clone() });
    backend
        .pull_image(&service.image)
        .await
        .map_err(|error| ServiceFailure::Pull { image: service.image.clone(), error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn references_always_get_a_tag() {
        assert_eq!(split_reference("busybox"), ("busybox", "latest"));
        assert_eq!(split_reference("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(split_reference("localhost:5000/app"), ("localhost:5000/app", "latest"));
        assert_eq!(split_reference("localhost:5000/app:2"), ("localhost:5000/app", "2"));
        assert_eq!(split_reference("app@sha256:abc"), ("app@sha256:abc", ""));
    }

    #[test]
    fn references_are_checked() {
        for good in [
            "busybox",
            "busybox:1.36",
            "library/busybox:latest",
            "localhost:5000/a/b:2",
            "ghcr.io/o/r:v1.0",
            "a@sha256:abc",
            "my_app-x.y:tag_1",
        ] {
            assert!(is_valid_reference(good), "{good}");
        }
        for bad in ["", "Bad Image!!", "Busybox", "a:", "a::b", "a/", "/a", "a b:1", "a:-x"] {
            assert!(!is_valid_reference(bad), "{bad}");
        }
    }

    #[test]
    fn escapes_are_stripped() {
        assert_eq!(strip_escapes("\u{1b}[91m/bin/sh: x: not found"), "/bin/sh: x: not found");
        assert_eq!(strip_escapes("\u{1b}[0mRemoving \u{1b}[1;31mred\u{1b}[0m"), "Removing red");
        assert_eq!(strip_escapes("plain"), "plain");
    }

    #[test]
    fn build_stamps_and_step_images_are_recognised() {
        assert_eq!(build_stamp("shop/api:boss-20261118-110640"), Some("20261118-110640"));
        assert_eq!(build_stamp("localhost:5000/api:boss-20261118-110640"), Some("20261118-110640"));
        for other in ["api:latest", "api:boss-failed-20261118-110640", "api:boss-2026111-1106400", "api:boss-x"] {
            assert_eq!(build_stamp(other), None, "{other}");
        }
        assert_eq!(failed_build_tag("api:boss-20261118-110640"), "api:boss-failed-20261118-110640");
        assert_eq!(step_image(" ---> 205768c4ac22"), Some("205768c4ac22"));
        assert_eq!(step_image(" ---> Running in 6b6444d76a2d"), None);
        assert_eq!(step_image(" ---> Using cache"), None);
    }

    #[test]
    fn each_stage_ends_with_its_last_step_image() {
        let mut ends = StageEnds::default();
        for line in [
            "Step 1/6 : FROM base AS one",
            " ---> 111111111111",
            "Step 2/6 : COPY v /v",
            " ---> 222222222222",
            "Step 3/6 : from base",
            " ---> 111111111111",
            "Step 4/6 : COPY --from=one /v /w",
            " ---> Running in 999999999999",
            " ---> 444444444444",
            "Step 5/6 : RUN false",
            " ---> Running in 888888888888",
        ] {
            ends.see(line);
        }
        assert_eq!(ends.into_leaves(), ["222222222222", "444444444444"]);
        assert_eq!(StageEnds::default().into_leaves(), Vec::<String>::new());
    }

    #[test]
    fn builds_are_tagged_with_the_declared_reference_and_the_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(build_tags("shop/api", now), ["shop/api:latest", "shop/api:boss-20261118-110640"]);
        assert_eq!(build_tags("api:dev", now), ["api:dev", "api:boss-20261118-110640"]);
    }
}
