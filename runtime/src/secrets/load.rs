//! Secrets from the environment, or from the file an `_FILE` variable names.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use super::SecretError;
use super::encoding::SecretEncoding;

/// The largest secret file read, in bytes. A bigger file is refused rather than read:
/// `NAME_FILE=/dev/zero` must fail, not fill the memory.
pub const MAX_SECRET_FILE_BYTES: usize = 64 * 1024;

/// The suffix of the variable that names a secret file.
const FILE_SUFFIX: &str = "_FILE";

/// Reads the secret `name` from the environment variable `name`, or from the file that the
/// variable `name_FILE` names (the Docker and Kubernetes secrets convention).
///
/// - Exactly one of the two must be set: neither is [`SecretError::Missing`], both is
///   [`SecretError::Ambiguous`]. A variable set to the empty string counts as set.
/// - A value from the variable is taken as it is; it must not be empty.
/// - A file must be UTF-8 text of at most [`MAX_SECRET_FILE_BYTES`]; its trailing line
///   breaks (`\n`, `\r\n`) are removed, and what is left must not be empty.
///
/// Errors name the variable or the file, never the value. The value goes straight into a
/// [`SecretString`], which never prints it and zeroes it when dropped; the buffers read on
/// the way are zeroed as well (the process environment itself keeps its copy).
pub fn secret_from_env(name: &str) -> Result<SecretString, SecretError> {
    secret_from(name, &|variable| std::env::var_os(variable))
}

/// Reads a binary secret, such as a key, written in `encoding`, from the environment
/// variable `name` or the file `name_FILE` names, as [`secret_from_env`] does.
///
/// A value that is not valid `encoding` is [`SecretError::Encoding`], which says which
/// encoding was expected and never quotes the value.
pub fn secret_bytes_from_env(
    name: &str,
    encoding: SecretEncoding,
) -> Result<SecretSlice<u8>, SecretError> {
    secret_bytes_from(name, encoding, &|variable| std::env::var_os(variable))
}

/// Where a loaded secret came from, for messages and logs.
pub(crate) fn origin_of(name: &str, lookup: &dyn Fn(&str) -> Option<OsString>) -> String {
    let file_variable = format!("{name}{FILE_SUFFIX}");
    match lookup(&file_variable) {
        Some(path) => format!(
            "the file {} (from {file_variable})",
            Path::new(&path).display()
        ),
        None => format!("the environment variable {name}"),
    }
}

/// [`secret_bytes_from_env`] over any environment.
pub(crate) fn secret_bytes_from(
    name: &str,
    encoding: SecretEncoding,
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Result<SecretSlice<u8>, SecretError> {
    let text = secret_from(name, lookup)?;
    match encoding.decode(text.expose_secret()) {
        // An exact copy: boxing the decoder's buffer could reallocate and leave a copy.
        Some(bytes) => Ok(SecretSlice::from(bytes.to_vec())),
        None => Err(SecretError::Encoding {
            origin: origin_of(name, lookup),
            expected: encoding,
        }),
    }
}

/// [`secret_from_env`] over any environment, so that it can be tested without touching
/// the process's.
pub(crate) fn secret_from(
    name: &str,
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Result<SecretString, SecretError> {
    let file_variable = format!("{name}{FILE_SUFFIX}");
    let (secret, from_file) = match (lookup(name), lookup(&file_variable)) {
        (Some(_), Some(_)) => {
            return Err(SecretError::Ambiguous {
                variable: name.to_owned(),
                file_variable,
            });
        }
        (None, None) => {
            return Err(SecretError::Missing {
                variable: name.to_owned(),
                file_variable,
            });
        }
        (Some(value), None) => (from_value(name, value)?, None),
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            (from_file(&file_variable, &path)?, Some(path))
        }
    };
    match from_file {
        Some(path) => tracing::debug!(
            target: "portcullis::secrets",
            variable = %file_variable,
            path = %path.display(),
            "secret loaded from a file"
        ),
        None => tracing::debug!(
            target: "portcullis::secrets",
            variable = %name,
            "secret loaded from the environment"
        ),
    }
    Ok(secret)
}

fn from_value(variable: &str, value: OsString) -> Result<SecretString, SecretError> {
    let value = match value.into_string() {
        Ok(value) => Zeroizing::new(value),
        Err(raw) => {
            raw.into_encoded_bytes().zeroize();
            return Err(SecretError::NotUnicode {
                variable: variable.to_owned(),
            });
        }
    };
    if value.is_empty() {
        return Err(SecretError::EmptyVariable {
            variable: variable.to_owned(),
        });
    }
    Ok(SecretString::from(value.as_str()))
}

fn from_file(file_variable: &str, path: &Path) -> Result<SecretString, SecretError> {
    let unreadable = |error: std::io::Error| SecretError::Unreadable {
        file_variable: file_variable.to_owned(),
        path: path.to_owned(),
        reason: error.kind(),
    };
    let file = File::open(path).map_err(unreadable)?;
    // Room for one byte more than the limit, so that nothing reallocates (leaving a copy
    // behind) and a file over the limit is seen.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_SECRET_FILE_BYTES + 1));
    file.take(MAX_SECRET_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > MAX_SECRET_FILE_BYTES {
        return Err(SecretError::FileTooLarge {
            file_variable: file_variable.to_owned(),
            path: path.to_owned(),
            limit: MAX_SECRET_FILE_BYTES,
        });
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Err(SecretError::FileNotUnicode {
            file_variable: file_variable.to_owned(),
            path: path.to_owned(),
        });
    };
    let text = text.trim_end_matches(['\n', '\r']);
    if text.is_empty() {
        return Err(SecretError::EmptyFile {
            file_variable: file_variable.to_owned(),
            path: path.to_owned(),
        });
    }
    let secret = SecretString::from(text);
    bytes.zeroize();
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use super::*;

    const SECRET: &str = "hunter2-correct-horse-battery";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + use<> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), OsString::from(value)))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn temp_file(name: &str, content: &[u8]) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("portcullis-secrets-{}-{name}", std::process::id()));
        let mut file = File::create(&path).unwrap();
        file.write_all(content).unwrap();
        path
    }

    #[test]
    fn reads_the_variable() {
        let secret = secret_from("DB_PASSWORD", &env(&[("DB_PASSWORD", SECRET)])).unwrap();
        assert_eq!(secret.expose_secret(), SECRET);
        assert!(!format!("{secret:?}").contains(SECRET));
    }

    #[test]
    fn reads_the_file_and_trims_line_breaks() {
        let path = temp_file("trim", format!("{SECRET}\r\n\n").as_bytes());
        let lookup = env(&[("DB_PASSWORD_FILE", path.to_str().unwrap())]);
        let secret = secret_from("DB_PASSWORD", &lookup).unwrap();
        assert_eq!(secret.expose_secret(), SECRET);
        // Other whitespace is part of the secret.
        let path = temp_file("spaces", b" a b \n");
        let lookup = env(&[("S_FILE", path.to_str().unwrap())]);
        assert_eq!(secret_from("S", &lookup).unwrap().expose_secret(), " a b ");
    }

    #[test]
    fn refuses_both_neither_and_empty() {
        let both = secret_from("S", &env(&[("S", SECRET), ("S_FILE", "/nonexistent")]));
        assert_eq!(
            both.unwrap_err(),
            SecretError::Ambiguous {
                variable: "S".into(),
                file_variable: "S_FILE".into()
            }
        );
        let neither = secret_from("S", &env(&[])).unwrap_err();
        let message = neither.to_string();
        assert!(
            message.contains("S ") && message.contains("S_FILE"),
            "{message}"
        );
        assert_eq!(
            secret_from("S", &env(&[("S", "")])).unwrap_err(),
            SecretError::EmptyVariable {
                variable: "S".into()
            }
        );
        let path = temp_file("empty", b"\n");
        let lookup = env(&[("S_FILE", path.to_str().unwrap())]);
        let error = secret_from("S", &lookup).unwrap_err();
        assert!(matches!(error, SecretError::EmptyFile { .. }));
        assert!(error.to_string().contains(path.to_str().unwrap()));
    }

    #[test]
    fn names_unreadable_files_without_their_content() {
        let lookup = env(&[("S_FILE", "/nonexistent/portcullis/secret")]);
        let error = secret_from("S", &lookup).unwrap_err();
        assert_eq!(
            error,
            SecretError::Unreadable {
                file_variable: "S_FILE".into(),
                path: "/nonexistent/portcullis/secret".into(),
                reason: std::io::ErrorKind::NotFound,
            }
        );
        assert!(error.to_string().contains("/nonexistent/portcullis/secret"));

        let mut latin1 = SECRET.as_bytes().to_vec();
        latin1.push(0xE9);
        let path = temp_file("latin1", &latin1);
        let lookup = env(&[("S_FILE", path.to_str().unwrap())]);
        let error = secret_from("S", &lookup).unwrap_err();
        assert!(matches!(error, SecretError::FileNotUnicode { .. }));
        assert!(!format!("{error} {error:?}").contains(SECRET));

        let path = temp_file("large", &vec![b'a'; MAX_SECRET_FILE_BYTES + 1]);
        let lookup = env(&[("S_FILE", path.to_str().unwrap())]);
        let error = secret_from("S", &lookup).unwrap_err();
        assert!(matches!(error, SecretError::FileTooLarge { .. }));
    }

    #[test]
    fn decodes_keys_and_says_which_encoding() {
        let key = "-_-_AAAA";
        let bytes = secret_bytes_from("K", SecretEncoding::Base64Url, &env(&[("K", key)])).unwrap();
        assert_eq!(bytes.expose_secret(), &[0xfb, 0xff, 0xbf, 0, 0, 0]);
        let error =
            secret_bytes_from("K", SecretEncoding::Base64, &env(&[("K", key)])).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("standard alphabet"), "{message}");
        assert!(message.contains("environment variable K"), "{message}");
        assert!(!message.contains(key));
        assert_eq!(
            secret_bytes_from("K", SecretEncoding::Base64, &env(&[("K", "+/+/AA==")]))
                .unwrap()
                .expose_secret(),
            &[0xfb, 0xff, 0xbf, 0]
        );
    }
}
