//! Which launcher started this process, and where it sits among the others: rank, world size and
//! local rank read from the launcher's own environment variables, the way each documents them.
//!
//! In order of precedence (a process launched by `srun` under an MPI library may see several):
//! - Open MPI's `mpirun` / `mpiexec`: `OMPI_COMM_WORLD_RANK`, `OMPI_COMM_WORLD_SIZE`, `OMPI_COMM_WORLD_LOCAL_RANK`;
//! - MPICH's and Intel MPI's Hydra (`mpiexec`), or any PMI-1/2 launcher: `PMI_RANK`, `PMI_SIZE`, `MPI_LOCALRANKID`;
//! - torchrun (`torch.distributed.run`) and the other launchers that follow it: `RANK`, `WORLD_SIZE`,
//!   `LOCAL_RANK`, with the rendezvous at `MASTER_ADDR:MASTER_PORT`;
//! - Slurm's `srun` (a job step): `SLURM_PROCID`, `SLURM_STEP_NUM_TASKS` (else `SLURM_NTASKS`),
//!   `SLURM_LOCALID`. A batch script itself is not a step (no `SLURM_STEP_ID`): it is not distributed.
//!
//! A world of one process is not a distributed launch.

use crate::error::{Error, Result};

/// The launcher that set the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    OpenMpi,
    /// MPICH's Hydra or another PMI launcher.
    Pmi,
    Torchrun,
    Slurm,
}

impl Launcher {
    pub fn name(self) -> &'static str {
        match self {
            Launcher::OpenMpi => "mpirun (Open MPI)",
            Launcher::Pmi => "mpiexec (MPICH/PMI)",
            Launcher::Torchrun => "torchrun",
            Launcher::Slurm => "srun (Slurm)",
        }
    }

    /// Whether the launcher also started an MPI runtime the processes can join (Slurm's steps can, through PMI/PMIx).
    pub fn starts_mpi(self) -> bool {
        !matches!(self, Launcher::Torchrun)
    }
}

/// This process's place in a distributed launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub launcher: Launcher,
    pub rank: usize,
    pub world_size: usize,
    /// The rank among the processes of this machine (which GPU: `cuda:local_rank`).
    pub local_rank: usize,
    /// torchrun's rendezvous (`MASTER_ADDR`, `MASTER_PORT`), when set.
    pub master: Option<(String, u16)>,
}

/// The launch described by the environment `var` reads (`std::env::var` in a process; a map in
/// tests): `None` when no launcher set its variables or the world is one process; an error naming
/// the variable when one is malformed or inconsistent.
pub fn detect(var: impl Fn(&str) -> Option<String>) -> Result<Option<Launch>> {
    let number = |name: &str| -> Result<Option<usize>> {
        match var(name) {
            None => Ok(None),
            Some(v) => {
                v.trim().parse::<usize>().map(Some).map_err(|_| Error::Distributed(format!("environment variable {name}={v:?} is not a non-negative integer")))
            }
        }
    };
    let first = |names: &[&str]| -> Result<Option<usize>> {
        for n in names {
            if let Some(v) = number(n)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    };
    let found = if let (Some(rank), Some(size)) = (number("OMPI_COMM_WORLD_RANK")?, number("OMPI_COMM_WORLD_SIZE")?) {
        Some((Launcher::OpenMpi, rank, size, number("OMPI_COMM_WORLD_LOCAL_RANK")?, "OMPI_COMM_WORLD_RANK"))
    } else if let (Some(rank), Some(size)) = (number("PMI_RANK")?, number("PMI_SIZE")?) {
        Some((Launcher::Pmi, rank, size, first(&["MPI_LOCALRANKID", "PMI_LOCAL_RANK"])?, "PMI_RANK"))
    } else if let (Some(rank), Some(size)) = (number("RANK")?, number("WORLD_SIZE")?) {
        Some((Launcher::Torchrun, rank, size, number("LOCAL_RANK")?, "RANK"))
    } else if let (Some(rank), Some(size), true) = (number("SLURM_PROCID")?, first(&["SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"])?, var("SLURM_STEP_ID").is_some())
    {
        Some((Launcher::Slurm, rank, size, number("SLURM_LOCALID")?, "SLURM_PROCID"))
    } else {
        None
    };
    let Some((launcher, rank, world_size, local_rank, rank_var)) = found else { return Ok(None) };
    if world_size == 0 || rank >= world_size {
        return Err(Error::Distributed(format!("{} set {rank_var}={rank} for a world of {world_size} processes", launcher.name())));
    }
    if world_size == 1 {
        return Ok(None);
    }
    let master = match (var("MASTER_ADDR"), var("MASTER_PORT")) {
        (Some(addr), Some(port)) => {
            let port = port.trim().parse::<u16>().map_err(|_| Error::Distributed(format!("environment variable MASTER_PORT={port:?} is not a port number")))?;
            Some((addr, port))
        }
        _ => None,
    };
    Ok(Some(Launch { launcher, rank, world_size, local_rank: local_rank.unwrap_or(0), master }))
}

/// `detect` on this process's environment.
pub fn from_env() -> Result<Option<Launch>> {
    detect(|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn each_launcher_is_read_from_its_own_variables() {
        let l = detect(env(&[("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "4"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1")])).unwrap().unwrap();
        assert_eq!((l.launcher, l.rank, l.world_size, l.local_rank), (Launcher::OpenMpi, 1, 4, 1));
        let l = detect(env(&[("PMI_RANK", "3"), ("PMI_SIZE", "8"), ("MPI_LOCALRANKID", "3")])).unwrap().unwrap();
        assert_eq!((l.launcher, l.rank, l.world_size, l.local_rank), (Launcher::Pmi, 3, 8, 3));
        let l = detect(env(&[("RANK", "5"), ("WORLD_SIZE", "16"), ("LOCAL_RANK", "5"), ("MASTER_ADDR", "node0"), ("MASTER_PORT", "29500")])).unwrap().unwrap();
        assert_eq!((l.launcher, l.rank, l.world_size, l.local_rank), (Launcher::Torchrun, 5, 16, 5));
        assert_eq!(l.master, Some(("node0".to_string(), 29500)));
        let l = detect(env(&[("SLURM_PROCID", "2"), ("SLURM_STEP_NUM_TASKS", "4"), ("SLURM_NTASKS", "8"), ("SLURM_LOCALID", "0"), ("SLURM_STEP_ID", "0")]))
            .unwrap()
            .unwrap();
        assert_eq!((l.launcher, l.rank, l.world_size, l.local_rank), (Launcher::Slurm, 2, 4, 0));
        // Open MPI's variables win over Slurm's (mpirun inside an allocation).
        let l =
            detect(env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2"), ("SLURM_STEP_ID", "0"), ("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2")]))
                .unwrap()
                .unwrap();
        assert_eq!(l.launcher, Launcher::OpenMpi);
    }

    #[test]
    fn one_process_and_batch_scripts_are_not_distributed() {
        assert_eq!(detect(env(&[])).unwrap(), None);
        assert_eq!(detect(env(&[("RANK", "0"), ("WORLD_SIZE", "1")])).unwrap(), None);
        // sbatch's script sees the allocation's task count but is no job step.
        assert_eq!(detect(env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4")])).unwrap(), None);
    }

    #[test]
    fn malformed_variables_are_named() {
        let err = detect(env(&[("RANK", "two"), ("WORLD_SIZE", "4")])).unwrap_err().to_string();
        assert!(err.contains("RANK=\"two\""), "{err}");
        let err = detect(env(&[("RANK", "4"), ("WORLD_SIZE", "4")])).unwrap_err().to_string();
        assert!(err.contains("RANK=4 for a world of 4"), "{err}");
        let err = detect(env(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "a"), ("MASTER_PORT", "99999")])).unwrap_err().to_string();
        assert!(err.contains("MASTER_PORT"), "{err}");
    }
}
