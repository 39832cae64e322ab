//! Generated scripts that tests and benches share.

/// A group of `n_services` busybox services `s0`, `s1`, ...: `s<i>` depends on
/// `s<(i - 1) / 10>`, so a hundred start in three waves of dependencies. Uses the `@GROUP@`
/// and `@IMAGE@` placeholders of [`super::Project::script`].
pub(crate) fn fan_out_script(n_services: usize) -> String {
    format!(
        r#"group("@GROUP@");
for i in 0..{n_services} {{
    let dependencies = if i == 0 {{ [] }} else {{ [`s${{(i - 1) / 10}}`] }};
    service(#{{ name: `s${{i}}`, image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
        dependencies: dependencies }});
}}
"#
    )
}
