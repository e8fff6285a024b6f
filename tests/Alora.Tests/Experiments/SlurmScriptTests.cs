using Alora.Experiments;

namespace Alora.Tests.Experiments;

/// <summary>The batch scripts and the sbatch options of each job, against scripts written out by hand.</summary>
public sealed class SlurmScriptTests
{
    static ExperimentConfig Config(string slurm)
    {
        using var tmp = new TempDir();
        var yaml = AdapterScaleExperimentTests.WriteExperiment(tmp.Path, "[base, lora-mu]", slurm);
        return ExperimentConfig.Load(yaml);
    }

    [Fact]
    public void Options_merge_global_then_the_methods_own_then_the_command_lines()
    {
        var c = Config(
            "slurm:\n  partition: gpu\n  time: \"01:00:00\"\n  cpus-per-task: 4\n  methods:\n    lora-mu: {time: \"08:00:00\", gres: \"gpu:1\"}\n"
        );
        var r = SlurmResources.From(c, ["partition=debug", "mem=16G"]);
        var plan = ExperimentPlanner.Plan(c, "/tmp/x");
        Assert.Equal([("partition", "debug"), ("time", "01:00:00"), ("cpus-per-task", "4"), ("mem", "16G")], r.For(plan.Job("base")));
        Assert.Equal(
            [("partition", "debug"), ("time", "08:00:00"), ("cpus-per-task", "4"), ("gres", "gpu:1"), ("mem", "16G")],
            r.For(plan.Job("lora-mu-quiz-s1"))
        );
    }

    [Theory]
    [InlineData("slurm:\n  job-name: x\n", "slurm: 'job-name' is set by the launcher itself")]
    [InlineData("slurm:\n  Partition: x\n", "slurm: 'Partition' is not an sbatch long option name")]
    [InlineData("slurm:\n  methods:\n    alora: {time: \"1:00:00\"}\n", "slurm.methods.alora: not a method of this experiment")]
    [InlineData("slurm:\n  mem: [1, 2]\n", "slurm.mem: expected a value")]
    public void A_bad_slurm_mapping_is_an_error_naming_the_key(string slurm, string message)
    {
        var e = Assert.Throws<AloraException>(() => Config(slurm));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        var cli = Assert.Throws<AloraException>(() => SlurmResources.From(Config(""), ["dependency=afterok:1"]));
        Assert.Contains("'dependency' is set by the launcher itself", cli.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_script_runs_the_job_with_the_cpus_it_was_given()
    {
        var c = Config("slurm:\n  gres: \"gpu:1\"\n");
        var job = ExperimentPlanner.Plan(c, "/exp/out").Job("lora-mu-quiz-s1");
        var script = SlurmScript.For(job, [("gres", "gpu:1")], "/exp/it's.yaml", "/exp/out", ["/usr/bin/dotnet", "/opt/alora/Alora.Cli.dll"]);
        Assert.Equal(
            """
            #!/bin/bash
            #SBATCH --job-name=alora-lora-mu-quiz-s1
            #SBATCH --output=/exp/out/runs/lora-mu-quiz-s1/slurm-%j.out
            #SBATCH --open-mode=append
            #SBATCH --gres=gpu:1
            # alora experiment --launcher slurm: job lora-mu-quiz-s1 (domain)
            set -e
            threads=${SLURM_CPUS_PER_TASK:-1}
            export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
            exec '/usr/bin/dotnet' '/opt/alora/Alora.Cli.dll' 'experiment' '--config' '/exp/it'\''s.yaml' '--out' '/exp/out' '--job' 'lora-mu-quiz-s1' --threads "$threads"

            """.Replace("\r", "", StringComparison.Ordinal),
            script
        );
    }
}
