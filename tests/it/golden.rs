//! The README's sample output, reproduced: each sample is read from `README.md` at run time (the
//! first bare fenced block after its heading), the binary is run with the inputs the README
//! states around it, and its stdout must be the sample, line for line.

use std::path::Path;

use crate::testenv::{README_WEEK, TempDir, bms, gx, run_bin};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The section under `heading` (up to the next heading of any level), and the first fenced
/// block in it opened by a bare ```` ``` ```` line.
fn sample(readme: &str, heading: &str) -> (String, String) {
    let start = readme
        .lines()
        .position(|l| l == heading)
        .unwrap_or_else(|| panic!("README.md has no heading {heading:?}"));
    let mut section = Vec::new();
    let mut fenced = false;
    for line in readme.lines().skip(start + 1) {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            break;
        }
        section.push(line);
    }
    // The closing fence of a ```sh block is bare too: only an opening fence counts.
    let mut inside = false;
    let open = section
        .iter()
        .position(|l| {
            let opens = !inside && *l == "```";
            inside ^= l.starts_with("```");
            opens
        })
        .unwrap_or_else(|| panic!("no bare ``` block under {heading:?}"));
    let len = section[open + 1..]
        .iter()
        .position(|l| l.starts_with("```"))
        .unwrap_or_else(|| panic!("the block under {heading:?} is never closed"));
    (
        section[..open].join("\n"),
        section[open + 1..open + 1 + len].join("\n"),
    )
}

/// Fails unless the README's prose (whitespace folded) still states each of `inputs`: the
/// test runs the sample with these inputs, so a changed input is a changed test.
#[track_caller]
fn states(prose: &str, inputs: &[&str]) {
    let folded = prose.split_whitespace().collect::<Vec<_>>().join(" ");
    for input in inputs {
        assert!(
            folded.contains(input),
            "README.md no longer says {input:?} before its sample:\n{prose}"
        );
    }
}

/// The sample under `heading`, after checking the README still states `inputs` for it.
#[track_caller]
fn sample_stating(heading: &str, inputs: &[&str]) -> String {
    let (prose, block) = sample(&readme(), heading);
    states(&prose, inputs);
    block
}

/// Compares line by line and names each line that differs.
#[track_caller]
fn same(heading: &str, readme: &str, output: &str) {
    let (want, got): (Vec<&str>, Vec<&str>) = (
        readme.lines().collect(),
        output.trim_end_matches('\n').lines().collect(),
    );
    let mut diff = Vec::new();
    for i in 0..want.len().max(got.len()) {
        let (w, g) = (want.get(i), got.get(i));
        if w != g {
            diff.push(format!(
                "line {}:\n  README: {}\n  output: {}",
                i + 1,
                w.map_or("(none)".to_string(), |l| format!("{l:?}")),
                g.map_or("(none)".to_string(), |l| format!("{l:?}"))
            ));
        }
    }
    assert!(
        diff.is_empty(),
        "the sample under {heading:?} is not what the binary prints ({} lines differ):\n{}\n\nthe whole output:\n{output}",
        diff.len(),
        diff.join("\n")
    );
}

/// The example config as shipped, with `edit` applied, in `dir`.
fn example_config(dir: &TempDir, edit: impl Fn(String) -> String) -> String {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/config.example.toml"),
    )
    .unwrap();
    let path = dir.0.join("config.toml");
    std::fs::write(&path, edit(shipped)).unwrap();
    path.display().to_string()
}

#[test]
fn what_plan_shows() {
    let heading = "## What `plan` shows";
    let block = sample_stating(
        heading,
        &[
            "the example config as shipped (its placeholders replaced by `--gx` and `--bms`)",
            "(`gx_sim` and `bms_sim` with their defaults)",
            "`plan --at 2026-11-23T22:27:00+11:00`",
        ],
    );
    // The simulators' defaults: gx_sim's is `GxSim::start`, bms_sim's one battery at 63.4 %
    // due in 20 h.
    let gx = gx::GxSim::start().unwrap();
    let bms = bms::BmsSim::start(bms::scenario(&[bms::battery(63.4, false, 20 * 3600)])).unwrap();
    let dir = TempDir::new("golden-plan");
    let config = example_config(&dir, |text| text);
    let r = run_bin(
        &[
            "--config",
            &config,
            "--gx",
            &format!("127.0.0.1:{}", gx.port()),
            "--bms",
            &bms.url(),
            "plan",
            "--at",
            "2026-11-23T22:27:00+11:00",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{r:?}");
    same(heading, &block, &r.stdout);
}

#[test]
fn simulate_a_week() {
    let heading = "## `simulate`: a week of the rules before you change anything";
    let block = sample_stating(
        heading,
        &[
            "the example config (`soc = \"auto\"`) with `reserve_soc = 30`, a 400 W house and no solar",
            "(`simulate --from 2026-11-23T07:00:00+11:00 --days 7 --soc 80 --due-in 30`)",
        ],
    );
    let dir = TempDir::new("golden-simulate");
    let config = example_config(&dir, |text| {
        assert!(text.contains("\n# reserve_soc = 30 "), "{text}");
        text.replace("\n# reserve_soc = 30 ", "\nreserve_soc = 30 ")
    });
    // --soc and --due-in: no device is read, but the placeholders must still be replaced.
    let mut args = vec![
        "--config",
        &config,
        "--gx",
        "127.0.0.1:1",
        "--bms",
        "http://127.0.0.1:1",
    ];
    args.extend(README_WEEK);
    let r = run_bin(&args, &[]);
    assert_eq!(r.code, 0, "{r:?}");
    same(heading, &block, &r.stdout);
}
