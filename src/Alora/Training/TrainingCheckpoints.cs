using System.Text.Json.Nodes;
using Alora.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Training;

/// <summary>
/// Resumable checkpoints, RUN/checkpoints/step-NNNNNNN: the trainable weights, the optimizer state, the hooks'
/// state, torch's RNG state and trainer_state.json (step, total steps, optimizer steps, seed, elapsed seconds).
/// A checkpoint is built in a .tmp folder and then renamed, so a kill during a save leaves the older ones intact;
/// only a folder holding trainer_state.json counts as complete.
/// </summary>
internal static class TrainingCheckpoints
{
    /// <summary>The checkpoints folder of a run folder.</summary>
    public static string DirOf(string runDir) => Path.Combine(runDir, "checkpoints");

    /// <summary>The newest complete checkpoint of a run folder, or null.</summary>
    public static string? Latest(string runDir) => List(DirOf(runDir)).LastOrDefault();

    /// <summary>The complete checkpoints of a checkpoints folder, oldest first (the zero-padded names sort by step).</summary>
    public static IEnumerable<string> List(string dir) =>
        !Directory.Exists(dir)
            ? []
            : Directory
                .GetDirectories(dir, "step-*")
                .Where(d => !d.EndsWith(".tmp", StringComparison.Ordinal) && File.Exists(Path.Combine(d, "trainer_state.json")))
                .Order(StringComparer.Ordinal);

    /// <summary>Saves the state after <paramref name="step"/> steps, then removes all but the newest <paramref name="keep"/> (at least 1).</summary>
    public static void Save(
        string dir,
        long step,
        long totalSteps,
        long seed,
        double elapsed,
        int keep,
        IReadOnlyList<(string Name, Parameter Param)> trainable,
        Optimizer optimizer,
        IReadOnlyList<ITrainingHook> hooks
    )
    {
        using var scope = NewDisposeScope();
        var final = Path.Combine(dir, $"step-{step:D7}");
        var tmp = final + ".tmp";
        if (Directory.Exists(tmp))
            Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        SafeTensorsWriter.Write(Path.Combine(tmp, "trainable.safetensors"), trainable.Select(t => new KeyValuePair<string, Tensor>(t.Name, t.Param)));
        SafeTensorsWriter.Write(Path.Combine(tmp, "optimizer.safetensors"), optimizer.State());
        SafeTensorsWriter.Write(
            Path.Combine(tmp, "hooks.safetensors"),
            hooks.SelectMany(h => h.State().Select(kv => new KeyValuePair<string, Tensor>(h.Name + "/" + kv.Key, kv.Value)))
        );
        using (var rng = random.get_rng_state())
            SafeTensorsWriter.Write(Path.Combine(tmp, "rng.safetensors"), [new("torch_cpu", rng)]);
        var state = new JsonObject
        {
            ["step"] = step,
            ["total_steps"] = totalSteps,
            ["optimizer_steps"] = optimizer.StepCount,
            ["seed"] = seed,
            ["elapsed_seconds"] = elapsed,
        };
        File.WriteAllText(Path.Combine(tmp, "trainer_state.json"), state.ToJsonString());
        if (Directory.Exists(final))
            Directory.Delete(final, true);
        Directory.Move(tmp, final);
        foreach (var old in List(dir).SkipLast(Math.Max(1, keep)))
            Directory.Delete(old, true);
    }

    /// <summary>
    /// Loads <paramref name="checkpoint"/> into the trainable parameters, the optimizer, the hooks and torch's RNG;
    /// returns the step it was saved after and the training seconds spent until then.
    /// </summary>
    public static (long Step, double ElapsedSeconds) Restore(
        string checkpoint,
        long totalSteps,
        IReadOnlyList<(string Name, Parameter Param)> trainable,
        Optimizer optimizer,
        IReadOnlyList<ITrainingHook> hooks
    )
    {
        var state = JsonFile.Read(Path.Combine(checkpoint, "trainer_state.json"));
        long step = state["step"]!.GetValue<long>();
        if (state["total_steps"]!.GetValue<long>() != totalSteps)
            throw new AloraException(
                $"{checkpoint}: the checkpoint was made for {state["total_steps"]} steps but this run has {totalSteps}: the configuration changed"
            );
        using (no_grad())
        {
            var weights = SafeTensorsFile.Open(Path.Combine(checkpoint, "trainable.safetensors"));
            foreach (var (name, p) in trainable)
            {
                if (!weights.Entries.ContainsKey(name))
                    throw new AloraException($"{checkpoint}: checkpoint lacks {name}: the adapter configuration changed");
                using var t = weights.Load(name);
                p.copy_(t);
            }
        }
        optimizer.LoadState(LoadAll(Path.Combine(checkpoint, "optimizer.safetensors")), state["optimizer_steps"]!.GetValue<long>());
        var hookState = LoadAll(Path.Combine(checkpoint, "hooks.safetensors"));
        foreach (var h in hooks)
            h.LoadState(
                hookState
                    .Where(kv => kv.Key.StartsWith(h.Name + "/", StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key[(h.Name.Length + 1)..], kv => kv.Value)
            );
        using (var rng = SafeTensorsFile.Open(Path.Combine(checkpoint, "rng.safetensors")).Load("torch_cpu"))
            random.set_rng_state(rng);
        foreach (var t in hookState.Values)
            t.Dispose();
        return (step, state["elapsed_seconds"]!.GetValue<double>());
    }

    static Dictionary<string, Tensor> LoadAll(string path)
    {
        var f = SafeTensorsFile.Open(path);
        return f.Entries.Keys.ToDictionary(k => k, k => f.Load(k).DetachFromDisposeScope());
    }
}
