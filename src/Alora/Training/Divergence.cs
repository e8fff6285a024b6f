using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Training;

/// <summary>
/// A run stops at the first non-finite quantity of a step (loss, penalty, gradient norm, updated parameters): the
/// check of the parameters after the update, and the error that names the fault and the checkpoint that stays.
/// </summary>
internal static class Divergence
{
    /// <summary>The first trainable parameter holding a NaN or an infinity after the update, or null.</summary>
    public static string? FirstNonFiniteParameter(IReadOnlyList<(string Name, Parameter Param)> trainable)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var finite = stack(trainable.Select(t => t.Param.isfinite().all()).ToArray()); // [P] bool
        if (finite.all().item<bool>())
            return null;
        var flags = finite.data<bool>().ToArray();
        return trainable[Array.IndexOf(flags, false)].Name;
    }

    /// <summary>The error of a diverged step: what was not finite, what to try, and which checkpoint is kept (none without a run folder).</summary>
    public static AloraException Error(long step, string fault, string? runDir)
    {
        var kept = runDir is null ? null : TrainingCheckpoints.Latest(runDir);
        var checkpoint =
            runDir is null ? ""
            : kept is null ? "; no checkpoint had been saved"
            : $"; the last checkpoint, {Path.GetFileName(kept)}, is kept";
        return new AloraException(
            $"step {step}: {fault}: training stopped (lower --lr, clip with --max-grad-norm, or check the data){checkpoint}; no adapter was written"
        );
    }
}
