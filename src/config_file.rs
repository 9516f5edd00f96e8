//! The config file on disk: read at most 1 MiB, then parsed and validated by `config`.

use std::path::Path;

use crate::config::{Config, ConfigError, MAX_CONFIG_BYTES, Overrides};

/// Reads and validates the file at `path`, applying command-line overrides.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Config, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(file, MAX_CONFIG_BYTES + 1),
        &mut text,
    )
    .map_err(read_error)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Config::parse(&text, overrides).map_err(|e| match e {
        ConfigError::Parse { message, .. } => ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "timezone = \"Australia/Hobart\"\n[bms]\nurl = \"http://127.0.0.1:1\"\n[gx]\nhost = \"127.0.0.1\"\n";

    #[test]
    fn a_file_over_1_mib_is_refused() {
        let path = std::env::temp_dir().join(format!("zcell-big-{}.toml", std::process::id()));
        let mut text = MINIMAL.to_string();
        text.push_str(&"#".repeat(MAX_CONFIG_BYTES as usize));
        std::fs::write(&path, text).unwrap();
        let e = load(&path, &Overrides::default()).unwrap_err();
        assert!(matches!(e, ConfigError::TooLarge { .. }), "{e}");
        std::fs::remove_file(&path).ok();
    }
}
