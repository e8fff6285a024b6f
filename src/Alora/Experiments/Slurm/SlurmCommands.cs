using System.Diagnostics;

namespace Alora.Experiments;

/// <summary>Slurm's own commands (sbatch, squeue, sacct, scancel), run as processes; their failures name the command and what it printed.</summary>
public static class SlurmCommands
{
    /// <summary>States of a job that is still in the queue or running: it will end by itself.</summary>
    public static readonly string[] LiveStates =
    [
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESIZING",
        "SUSPENDED",
        "STAGE_OUT",
        "SIGNALING",
    ];

    /// <summary>Submits a script: sbatch --parsable, with the given options before it; returns the job id.</summary>
    public static string Submit(string script, IEnumerable<string> options)
    {
        var output = Run("sbatch", [.. options, "--parsable", script]);
        var id = output.Trim().Split(';')[0]; // "ID" or "ID;CLUSTER"
        return id.Length > 0 && id.All(char.IsAsciiDigit) ? id : throw new AloraException($"sbatch answered '{output.Trim()}', not a job id");
    }

    /// <summary>The state of each job: squeue for those it still holds (queued, running, recently ended), sacct for older ones; ids neither knows are left out.</summary>
    public static Dictionary<string, string> States(IReadOnlyCollection<string> ids)
    {
        var states = new Dictionary<string, string>(StringComparer.Ordinal);
        if (ids.Count == 0)
            return states;
        foreach (var line in Run("squeue", ["--noheader", "--format=%i|%T", "--states=all"]).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Trim().Split('|');
            if (parts.Length == 2 && ids.Contains(parts[0]))
                states[parts[0]] = parts[1];
        }
        // squeue speaks for slurmctld itself; sacct's row can lag behind it (a job running for seconds may still read
        // PENDING there), so sacct is asked only about jobs squeue no longer holds
        var ended = ids.Where(i => !states.ContainsKey(i)).ToList();
        if (ended.Count > 0)
            foreach (
                var line in Run("sacct", ["-X", "--noheader", "--parsable2", "--format=JobID,State", "--jobs=" + string.Join(',', ended)])
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            )
            {
                var parts = line.Trim().Split('|');
                if (parts.Length == 2 && ids.Contains(parts[0]))
                    states[parts[0]] = parts[1].Split(' ')[0]; // "CANCELLED by 0"
            }
        return states;
    }

    public static void Cancel(string id) => Run("scancel", [id]);

    /// <summary>Runs a Slurm command to its end: its standard output, or an error with what it printed.</summary>
    public static string Run(string command, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(command)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var p = new Process { StartInfo = info };
        try
        {
            p.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new AloraException(
                $"{command}: cannot run it ({e.Message}); --launcher slurm needs Slurm's commands on PATH (a login node of the cluster)",
                e
            );
        }
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new AloraException($"{command} {string.Join(' ', info.ArgumentList)} failed (exit {p.ExitCode}): {stderr.Result.Trim()}");
        return stdout;
    }
}
