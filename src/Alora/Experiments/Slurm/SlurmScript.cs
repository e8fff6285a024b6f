using System.Text;

namespace Alora.Experiments;

/// <summary>
/// The batch script of one job: its sbatch options as #SBATCH lines, its output appended to
/// runs/NAME/slurm-JOBID.out, and the command that runs the job (<c>alora experiment --config C --out D --job NAME</c>)
/// with torch's threads set to the CPUs Slurm gave it. Dependencies are given to sbatch on its command line, since
/// they name the job ids of one submission.
/// </summary>
public static class SlurmScript
{
    public static string For(
        ExperimentJob job,
        IReadOnlyList<(string Key, string Value)> options,
        string configPath,
        string outDir,
        IReadOnlyList<string> command
    )
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(command);
        var runDir = Path.Combine(Path.GetFullPath(outDir), "runs", job.Name);
        var s = new StringBuilder();
        s.Append("#!/bin/bash\n");
        s.Append($"#SBATCH --job-name=alora-{job.Name}\n");
        s.Append($"#SBATCH --output={Path.Combine(runDir, "slurm-%j.out")}\n");
        s.Append("#SBATCH --open-mode=append\n");
        foreach (var (k, v) in options)
            s.Append($"#SBATCH --{k}={v}\n");
        s.Append($"# alora experiment --launcher slurm: job {job.Name} ({job.Kind.ToString().ToLowerInvariant()})");
        s.Append(job.DependsOn.Count > 0 ? $", after {string.Join(", ", job.DependsOn)}\n" : "\n");
        s.Append("set -e\n");
        s.Append("threads=${SLURM_CPUS_PER_TASK:-1}\n");
        s.Append("export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads\n");
        var args = command.Concat(["experiment", "--config", Path.GetFullPath(configPath), "--out", Path.GetFullPath(outDir), "--job", job.Name]);
        s.Append("exec ").Append(string.Join(' ', args.Select(Quote))).Append(" --threads \"$threads\"\n");
        return s.ToString();
    }

    /// <summary>A word for bash: in single quotes, a quote inside closed, escaped and reopened.</summary>
    public static string Quote(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        return "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }
}
