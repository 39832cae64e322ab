//! Which services a command acts on: the services named on the command line (`start api`
//! starts `api` and its dependencies, `stop api` stops `api` and its dependants) and the active
//! profiles, with docker compose's rules. The answer is a list of services to leave out, so the
//! exclusion rules of [`crate::graph`] and everything downstream apply unchanged. Pure; no I/O.

use indexmap::{IndexMap, IndexSet};

use crate::error::{Error, UsageError};
use crate::service::Service;

/// What a command line selects: services by name (none: every service its profiles allow)
/// and active profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    pub services: Vec<String>,
    pub profiles: Vec<String>,
}

/// The services a start leaves out. A service with profiles runs only when one of them is
/// active; a service named on the command line runs whatever its profiles (and activates them,
/// as compose does); the dependencies of what runs must be able to run too, or the start is
/// refused.
pub(crate) fn start_excluded(
    services: &IndexMap<String, Service>,
    selection: &Selection,
) -> Result<Vec<String>, Error> {
    check_known(services, &selection.services)?;
    let mut active: Vec<&str> = selection.profiles.iter().map(String::as_str).collect();
    for name in &selection.services {
        active.extend(services[name.as_str()].profiles.iter().map(String::as_str));
    }
    let enabled = |service: &Service| {
        service.profiles.is_empty() || service.profiles.iter().any(|profile| active.contains(&profile.as_str()))
    };
    let selected: IndexSet<&str> = if selection.services.is_empty() {
        services.values().filter(|service| enabled(service)).map(|service| service.name.as_str()).collect()
    } else {
        with_dependencies(services, &selection.services)
    };
    for name in &selected {
        for dependency in &services[*name].dependencies {
            let Some(needed) = services.get(dependency) else { continue };
            if !enabled(needed) {
                return Err(Error::Usage(UsageError::InactiveDependency {
                    service: (*name).to_string(),
                    dependency: dependency.clone(),
                    profiles: needed.profiles.clone(),
                }));
            }
        }
    }
    Ok(services.keys().filter(|name| !selected.contains(name.as_str())).cloned().collect())
}

/// The services a stop leaves running: all but the named ones and their dependants (none named:
/// none left out).
pub(crate) fn stop_excluded(services: &IndexMap<String, Service>, named: &[String]) -> Result<Vec<String>, Error> {
    check_known(services, named)?;
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let mut stopped: IndexSet<String> = named.iter().cloned().collect();
    for name in named {
        stopped.extend(crate::graph::transitive_dependants(services, name));
    }
    Ok(services.keys().filter(|name| !stopped.contains(*name)).cloned().collect())
}

/// The named services and everything they depend on, directly or not.
fn with_dependencies<'a>(services: &'a IndexMap<String, Service>, named: &[String]) -> IndexSet<&'a str> {
    let mut found: IndexSet<&str> = IndexSet::new();
    let mut frontier: Vec<&str> =
        named.iter().filter_map(|name| services.get_key_value(name.as_str()).map(|(key, _)| key.as_str())).collect();
    while let Some(name) = frontier.pop() {
        if !found.insert(name) {
            continue;
        }
        for dependency in &services[name].dependencies {
            if let Some((key, _)) = services.get_key_value(dependency.as_str()) {
                frontier.push(key.as_str());
            }
        }
    }
    found
}

/// Every name is a declared service.
fn check_known(services: &IndexMap<String, Service>, names: &[String]) -> Result<(), Error> {
    match names.iter().find(|name| !services.contains_key(name.as_str())) {
        Some(name) => Err(Error::Usage(UsageError::UnknownService {
            name: name.clone(),
            known: services.keys().cloned().collect(),
        })),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a -> b c` services, then `name: profile profile` for their profiles.
    fn services(graph: &str, profiles: &[(&str, &[&str])]) -> IndexMap<String, Service> {
        let mut services = crate::graph::tests::services(graph);
        for (name, names) in profiles {
            services[*name].profiles = names.iter().map(ToString::to_string).collect();
        }
        services
    }

    fn selection(services: &[&str], profiles: &[&str]) -> Selection {
        Selection {
            services: services.iter().map(ToString::to_string).collect(),
            profiles: profiles.iter().map(ToString::to_string).collect(),
        }
    }

    fn check(services: &IndexMap<String, Service>, named: &[&str], profiles: &[&str]) -> String {
        match start_excluded(services, &selection(named, profiles)) {
            Ok(excluded) => format!("excluded: {}", excluded.join(" ")),
            Err(error) => error.render().lines().next().unwrap_or_default().to_string(),
        }
    }

    #[test]
    fn naming_services_starts_them_with_their_dependencies() {
        let services = services("web -> api, api -> db cache, db, cache, worker -> db", &[]);
        assert_eq!(check(&services, &[], &[]), "excluded: ");
        assert_eq!(check(&services, &["api"], &[]), "excluded: web worker");
        assert_eq!(check(&services, &["db", "worker"], &[]), "excluded: web api cache");
        assert_eq!(check(&services, &["apj"], &[]), "error: unknown service `apj`");
    }

    #[test]
    fn a_service_with_profiles_runs_only_when_one_is_active() {
        let services =
            services("web, debug, mock, tools -> db, db", &[("debug", &["debug"]), ("mock", &["dev", "test"])]);
        assert_eq!(check(&services, &[], &[]), "excluded: debug mock");
        assert_eq!(check(&services, &[], &["test"]), "excluded: debug");
        assert_eq!(check(&services, &[], &["debug", "dev"]), "excluded: ");
        assert_eq!(check(&services, &[], &["unknown"]), "excluded: debug mock", "as compose, no error");
    }

    #[test]
    fn a_service_named_explicitly_runs_whatever_its_profiles() {
        let services = services(
            "web, admin -> db, db, seed -> db",
            &[("admin", &["debug"]), ("db", &["debug"]), ("seed", &["tools"])],
        );
        // Naming `admin` activates its profile, so its dependency `db` of the same profile runs.
        assert_eq!(check(&services, &["admin"], &[]), "excluded: web seed");
        // `seed`'s dependency `db` is only in `debug`, which nothing activates.
        assert_eq!(
            check(&services, &["seed"], &[]),
            "error: service `seed` depends on `db`, which is only in profile `debug`, and no such profile is active"
        );
        assert_eq!(check(&services, &["seed"], &["debug"]), "excluded: web admin");
    }

    #[test]
    fn a_dependency_on_an_inactive_service_is_refused() {
        let services = services("web -> db, db", &[("db", &["data", "full"])]);
        assert_eq!(
            check(&services, &[], &[]),
            "error: service `web` depends on `db`, which is only in profiles `data` and `full`, and none of them is active"
        );
        assert_eq!(check(&services, &[], &["full"]), "excluded: ");
    }

    #[test]
    fn stopping_named_services_stops_their_dependants_too() {
        let services = services("web -> api, api -> db, db, cache", &[]);
        let stop = |named: &[&str]| {
            stop_excluded(&services, &named.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(|error| error.render())
        };
        assert_eq!(stop(&[]).unwrap(), Vec::<String>::new());
        assert_eq!(stop(&["api"]).unwrap(), ["db", "cache"]);
        assert_eq!(stop(&["db", "cache"]).unwrap(), Vec::<String>::new());
        assert!(stop(&["nope"]).unwrap_err().starts_with("error: unknown service `nope`"));
        // What is left running never needs what is stopped.
        for named in [&["api"][..], &["db"], &["web"], &["cache"]] {
            crate::graph::check_stop_exclusions(&services, &stop(named).unwrap()).unwrap();
        }
    }
}
