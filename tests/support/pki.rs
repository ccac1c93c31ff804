//! A throwaway public-key infrastructure for TLS tests, made with the `openssl` command-line tool:
//! a CA, a server certificate and a client certificate it signed, and an unrelated "wrong" CA
//! with a client certificate of its own.
//!
//! The certificates are shaped to pass rustls/webpki, which is stricter than OpenSSL: X.509 v3,
//! the CA marked `CA:TRUE` with `keyCertSign`, leaves marked `CA:FALSE` with the extended key
//! usage of their role, and the server named by `subjectAltName` (webpki ignores the common
//! name). Keys are EC P-256 in PKCS#8 PEM, which rustls, grpcio and Python's `ssl` all read.

use crate::otlp::TlsFiles;
use crate::process::require_tool;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The extensions each kind of certificate gets, one `openssl` config section per kind.
const OPENSSL_CONFIG: &str = "\
[req]
distinguished_name = subject
prompt = no

# Unused: every request names its subject with -subj.
[subject]

[ca_extensions]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_extensions]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client_extensions]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

const CONFIG_FILE: &str = "openssl.cnf";
/// Long enough for any test run, short enough that a leaked file is of no use.
const VALIDITY_DAYS: &str = "30";

/// The PEM files of a generated PKI, all inside the directory given to [`TestPki::generate`].
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA that signed the server and client certificates.
    pub ca_cert: PathBuf,
    /// The CA's private key.
    pub ca_key: PathBuf,
    /// The server certificate, for `IP:127.0.0.1` and `DNS:localhost`, signed by the CA.
    pub server_cert: PathBuf,
    /// The server certificate's private key.
    pub server_key: PathBuf,
    /// A client certificate (`clientAuth`) signed by the CA, for mutual TLS.
    pub client_cert: PathBuf,
    /// The client certificate's private key.
    pub client_key: PathBuf,
    /// A CA that signed neither the server nor the client certificate: trusting it instead of
    /// [`ca_cert`](Self::ca_cert) must fail the handshake.
    pub wrong_ca_cert: PathBuf,
    /// The wrong CA's private key.
    pub wrong_ca_key: PathBuf,
    /// A client certificate signed by the wrong CA, which a mutual-TLS server must refuse.
    pub untrusted_client_cert: PathBuf,
    /// The untrusted client certificate's private key.
    pub untrusted_client_key: PathBuf,
}

impl TestPki {
    /// Generates the PKI into `dir` (which must exist), overwriting files of the same names.
    ///
    /// # Panics
    /// When `openssl` is missing or any of its commands fails; the message names the command
    /// and shows its stderr.
    #[must_use]
    pub fn generate(dir: &Path) -> Self {
        require_tool("openssl", "install the `openssl` command-line tool (Debian/Ubuntu: apt-get install openssl)");
        std::fs::write(dir.join(CONFIG_FILE), OPENSSL_CONFIG)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", dir.join(CONFIG_FILE).display()));
        let ca = Credentials::self_signed_ca(dir, "ca", "obs-test-ca");
        let server = Credentials::issued(dir, "server", "localhost", "server_extensions", &ca);
        let client = Credentials::issued(dir, "client", "obs-test-client", "client_extensions", &ca);
        let wrong_ca = Credentials::self_signed_ca(dir, "wrong-ca", "obs-test-wrong-ca");
        let untrusted_client =
            Credentials::issued(dir, "untrusted-client", "obs-test-untrusted-client", "client_extensions", &wrong_ca);
        TestPki {
            ca_cert: dir.join(ca.cert_file()),
            ca_key: dir.join(ca.key_file()),
            server_cert: dir.join(server.cert_file()),
            server_key: dir.join(server.key_file()),
            client_cert: dir.join(client.cert_file()),
            client_key: dir.join(client.key_file()),
            wrong_ca_cert: dir.join(wrong_ca.cert_file()),
            wrong_ca_key: dir.join(wrong_ca.key_file()),
            untrusted_client_cert: dir.join(untrusted_client.cert_file()),
            untrusted_client_key: dir.join(untrusted_client.key_file()),
        }
    }

    /// The files for a receiver serving TLS with the server certificate, any client welcome.
    #[must_use]
    pub fn server_tls(&self) -> TlsFiles {
        TlsFiles { cert: self.server_cert.clone(), key: self.server_key.clone(), client_ca: None }
    }

    /// The files for a receiver serving mutual TLS: clients need a certificate from the CA.
    #[must_use]
    pub fn mutual_tls(&self) -> TlsFiles {
        TlsFiles { client_ca: Some(self.ca_cert.clone()), ..self.server_tls() }
    }
}

/// A certificate and its key, as `<stem>-cert.pem` and `<stem>-key.pem` in the PKI's directory.
struct Credentials {
    stem: &'static str,
}

impl Credentials {
    fn cert_file(&self) -> String {
        format!("{}-cert.pem", self.stem)
    }

    fn key_file(&self) -> String {
        format!("{}-key.pem", self.stem)
    }

    /// Creates the key file; the certificate file is left to the caller.
    fn with_new_key(dir: &Path, stem: &'static str) -> Self {
        let credentials = Credentials { stem };
        // genpkey writes PKCS#8 ("BEGIN PRIVATE KEY"), unlike ecparam's SEC1 ("BEGIN EC PRIVATE KEY").
        openssl(
            dir,
            &format!("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out {}", credentials.key_file()),
        );
        credentials
    }

    fn self_signed_ca(dir: &Path, stem: &'static str, common_name: &str) -> Self {
        let ca = Self::with_new_key(dir, stem);
        let (key, cert) = (ca.key_file(), ca.cert_file());
        openssl(
            dir,
            &format!(
                "req -new -x509 -config {CONFIG_FILE} -extensions ca_extensions -key {key} -subj /CN={common_name} \
                 -sha256 -days {VALIDITY_DAYS} -out {cert}"
            ),
        );
        ca
    }

    /// A certificate for `common_name` with the config section `extensions`, signed by `issuer`.
    fn issued(dir: &Path, stem: &'static str, common_name: &str, extensions: &str, issuer: &Credentials) -> Self {
        let leaf = Self::with_new_key(dir, stem);
        let (key, cert, request) = (leaf.key_file(), leaf.cert_file(), format!("{stem}.csr"));
        let (issuer_key, issuer_cert, issuer_serials) =
            (issuer.key_file(), issuer.cert_file(), format!("{}.srl", issuer.stem));
        openssl(dir, &format!("req -new -config {CONFIG_FILE} -key {key} -subj /CN={common_name} -out {request}"));
        // A serial-number file per issuer keeps serials unique per CA, as verifiers expect.
        openssl(
            dir,
            &format!(
                "x509 -req -in {request} -CA {issuer_cert} -CAkey {issuer_key} -CAserial {issuer_serials} -CAcreateserial \
                 -extfile {CONFIG_FILE} -extensions {extensions} -sha256 -days {VALIDITY_DAYS} -out {cert}"
            ),
        );
        leaf
    }
}

/// Runs `openssl` in `dir`, where all its input and output files are, with `command_line` split
/// at whitespace (no file name or subject here contains any).
fn openssl(dir: &Path, command_line: &str) {
    let output = Command::new("openssl")
        .args(command_line.split_whitespace())
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run openssl: {error}"));
    assert!(
        output.status.success(),
        "`openssl {}` failed in {} ({}):\n{}",
        command_line.split_whitespace().collect::<Vec<_>>().join(" "),
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
