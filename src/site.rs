//! Where the site lives and its routes, as plain string arithmetic so it is tested
//! natively. The page may be served at a domain's root or under any sub-path (a
//! project page at `/repo/`): the app finds its base from where its own script was
//! loaded, and every in-page link is built from that base.

/// The shape explorer and trainer.
pub const HOME: &str = "/";

/// The design-space explorer: sweeps compared by their error EDFs.
pub const EXPLORE: &str = "/explore";

/// Fitting the RegNet rule to any network's per-block widths.
pub const FIT: &str = "/fit";

/// The lessons: a guided path through the paper, one step per `/lessons/STEP`
/// (`crate::lessons`); the route alone opens the first step.
pub const LESSONS: &str = "/lessons";

/// The published models side by side (the pycls model zoo beside our complexity).
pub const MODELS: &str = "/models";

/// Every page, as (route, name, test id of its link), in the order the navigation
/// lists them.
pub const PAGES: [(&str, &str, &str); 5] = [
    (HOME, "Shape explorer", "nav-home"),
    (LESSONS, "Lessons", "nav-lessons"),
    (EXPLORE, "Design-space explorer", "nav-explore"),
    (FIT, "Fit a RegNet", "nav-fit"),
    (MODELS, "Published models", "nav-models"),
];

/// The site's base path ("" at the root, "/repo" under a sub-path), from the path of
/// the app's script, which sits in a folder of its own under the base
/// (`/repo/page-1a2b/playground.js`: the page's split modules load each other by fixed
/// names, so the build names their folder, not each file, by a hash of their content).
pub fn base_of(script_path: &str) -> String {
    fn parent(path: &str) -> &str {
        path.rsplit_once('/').map_or("", |(dir, _)| dir)
    }
    parent(parent(script_path))
        .trim_end_matches('/')
        .to_string()
}

/// The in-page path of `route` (which starts with `/`) on a site at `base`.
pub fn path_of(base: &str, route: &str) -> String {
    let route = route.trim_start_matches('/');
    format!("{base}/{route}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_holds_the_scripts_folder() {
        assert_eq!(base_of("/page-1a2b/playground.js"), "");
        assert_eq!(base_of("/repo/page-1a2b/playground.js"), "/repo");
        assert_eq!(base_of("/a/b/page-1a2b/playground.js"), "/a/b");
        assert_eq!(base_of("page-1a2b/playground.js"), "");
        assert_eq!(base_of("playground.js"), "");
        assert_eq!(base_of(""), "");
    }

    #[test]
    fn routes_sit_under_the_base() {
        assert_eq!(path_of("", HOME), "/");
        assert_eq!(path_of("/repo", HOME), "/repo/");
        assert_eq!(path_of("/repo", EXPLORE), "/repo/explore");
        assert_eq!(path_of("/repo", FIT), "/repo/fit");
        assert_eq!(path_of("/repo", MODELS), "/repo/models");
        assert_eq!(path_of("", "/lessons/2"), "/lessons/2");
    }
}
