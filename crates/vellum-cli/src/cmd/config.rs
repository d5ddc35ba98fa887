//! `vellum config`: check a configuration file, or print the configuration
//! `vellum serve` would run with (file, environment and flags together).
//! The keys are in docs/CONFIG.md.

use std::path::PathBuf;

use vellum_server::ServeConfig;

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
    about = "Check or print the configuration of `vellum serve`",
    long_about = "Check or print the configuration of `vellum serve`.\n\n\
        The configuration comes from a TOML file (--config; see \
        examples/vellum.toml), environment variables over it \
        (VELLUM_<SECTION>_<KEY>, e.g. VELLUM_LIMITS_MAX_CONNECTIONS) and \
        flags over both. docs/CONFIG.md lists every key.",
    after_help = CONFIG_EXIT_HELP,
)]
pub struct Args {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Check a configuration file: unknown keys and bad values are errors
    /// that name the key and its line. Prints `ok` if it is valid.
    #[command(after_help = CONFIG_EXIT_HELP)]
    Check {
        /// The TOML file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the effective configuration as TOML: the file (--config), the
    /// environment and the flags of `vellum serve` together, secrets
    /// redacted.
    #[command(after_help = CONFIG_EXIT_HELP)]
    Print {
        /// The flags of `vellum serve` (see `vellum serve --help`).
        #[command(flatten)]
        serve: Box<crate::cmd::serve::Flags>,
    },
}

/// Runs `vellum config`.
pub fn run(args: Args) -> CmdResult {
    match args.cmd {
        Sub::Check { file } => {
            // The file alone: the environment is the running process's
            // business, not the file's.
            let config = ServeConfig::load(Some(&file), |_| None)?;
            config.validate()?;
            println!("ok");
        }
        Sub::Print { serve } => {
            let config = serve.config()?;
            config.validate()?;
            print!("{}", config.to_toml()?);
        }
    }
    Ok(())
}
