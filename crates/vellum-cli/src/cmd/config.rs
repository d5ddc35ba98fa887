//! `vellum config`: check a configuration file, or print the configuration
//! a process would run with (file, environment and flags together), for
//! `vellum serve` (the default), `vellum signer` or `vellum witness`. The
//! keys are in docs/CONFIG.md.

use std::path::{Path, PathBuf};

use vellum_config::{ConfigError, Layered};
use vellum_server::{ServeConfig, SignerServiceConfig};
use vellum_witness::WitnessServiceConfig;

use crate::exit::CmdResult;

/// Exit statuses as this command uses them.
const CONFIG_EXIT_HELP: &str = "\
Exit status:
  0  the configuration is valid (check prints `ok`; print prints it)
  2  it is not: the error names the file, the line and the key (or the
     environment variable or flag), or the file cannot be read";

/// Arguments of `vellum config`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Check or print the configuration of `vellum serve`, `signer` or `witness`",
    long_about = "Check or print the configuration of `vellum serve` (the default), \
        `vellum signer` or `vellum witness`.\n\n\
        Each comes from a TOML file (--config; see examples/vellum.toml, \
        examples/signer.toml, examples/witness.toml), environment variables over \
        it (serve: VELLUM_<SECTION>_<KEY>, e.g. VELLUM_LIMITS_MAX_CONNECTIONS; \
        signer: VELLUM_SIGNER_<KEY>; witness: VELLUM_WITNESS_<KEY>) and flags \
        over both. docs/CONFIG.md lists every key.\n\n\
        Examples:\n  \
        vellum config check vellum.toml\n  \
        vellum config check --for signer signer.toml\n  \
        vellum config print --config vellum.toml --max-connections 9\n  \
        vellum config print witness --config witness.toml",
    after_help = CONFIG_EXIT_HELP,
)]
pub struct Args {
    #[command(subcommand)]
    cmd: Sub,
}

/// The processes that have a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Process {
    /// `vellum serve` (docs/CONFIG.md, examples/vellum.toml).
    Serve,
    /// `vellum signer` (examples/signer.toml).
    Signer,
    /// `vellum witness` (examples/witness.toml).
    Witness,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Check a configuration file (of `vellum serve`, unless --for names
    /// another process): unknown keys and bad values are errors that name
    /// the key and its line. Prints `ok` if it is valid.
    #[command(after_help = CONFIG_EXIT_HELP)]
    Check {
        /// The process whose file this is.
        #[arg(
            long = "for",
            value_enum,
            value_name = "PROCESS",
            default_value = "serve"
        )]
        process: Process,

        /// The TOML file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the effective configuration as TOML: the file (--config), the
    /// environment and the flags together, secrets redacted. Without a
    /// process, `vellum serve`'s with its flags; `print signer` and `print
    /// witness` take those commands' flags.
    #[command(after_help = CONFIG_EXIT_HELP, args_conflicts_with_subcommands = true)]
    Print {
        /// The flags of `vellum serve` (see `vellum serve --help`).
        #[command(flatten)]
        serve: Box<crate::cmd::serve::Flags>,

        #[command(subcommand)]
        process: Option<PrintFor>,
    },
}

/// `vellum config print signer|witness`.
#[derive(Debug, clap::Subcommand)]
enum PrintFor {
    /// The configuration of `vellum signer` (its flags: see `vellum signer
    /// --help`).
    #[command(after_help = CONFIG_EXIT_HELP)]
    Signer(crate::cmd::signer::Flags),
    /// The configuration of `vellum witness` (its flags: see `vellum
    /// witness --help`).
    #[command(after_help = CONFIG_EXIT_HELP)]
    Witness(crate::cmd::witness::Flags),
}

/// Runs `vellum config`.
pub fn run(args: Args) -> CmdResult {
    match args.cmd {
        Sub::Check { process, file } => {
            check(process, &file)?;
            println!("ok");
        }
        Sub::Print { serve, process } => {
            let text = match process {
                None => {
                    let config = serve.config()?;
                    config.validate()?;
                    config.to_toml()?
                }
                Some(PrintFor::Signer(flags)) => flags.config()?.to_toml()?,
                Some(PrintFor::Witness(flags)) => flags.config()?.to_toml()?,
            };
            print!("{text}");
        }
    }
    Ok(())
}

/// The file alone: the environment is the running process's business, not
/// the file's.
fn check(process: Process, file: &Path) -> Result<(), ConfigError> {
    match process {
        Process::Serve => ServeConfig::load(Some(file), |_| None)?.validate(),
        Process::Signer => SignerServiceConfig::load(Some(file), |_| None).map(drop),
        Process::Witness => WitnessServiceConfig::load(Some(file), |_| None).map(drop),
    }
}
