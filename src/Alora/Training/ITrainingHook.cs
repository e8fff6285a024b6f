using Alora.Lora;
using static TorchSharp.torch;

namespace Alora.Training;

/// <summary>What a hook sees at each optimizer step.</summary>
public sealed class StepContext
{
    public required IReadOnlyList<AdaptedModule> Adapters { get; init; }

    /// <summary>The optimizer step about to be (or just) taken, 0-based.</summary>
    public long Step { get; internal set; }

    /// <summary>Learning rate of this step, after the schedule.</summary>
    public double Lr { get; internal set; }

    /// <summary>Target tokens in this step's batch.</summary>
    public long Tokens { get; internal set; }

    /// <summary>Mean cross-entropy of this step's batch.</summary>
    public double TaskLoss { get; internal set; }
}

/// <summary>
/// The engine's plug-in point: a stage adds a penalty to the loss and observes every optimizer step
/// (importance recording, the ALoRA and EWC regularisers) without copying the loop. Order per step:
/// task-loss backward -> <see cref="OnTaskGradients"/> -> <see cref="Penalty"/> backward ->
/// clipping -> <see cref="BeforeOptimizerStep"/> -> optimizer step -> <see cref="AfterOptimizerStep"/>.
/// </summary>
public interface ITrainingHook : IDisposable
{
    /// <summary>Name used for the penalty's column in metrics.jsonl.</summary>
    string Name { get; }

    /// <summary>Gradients of the unregularised task loss are in the LoRA parameters' .grad.</summary>
    void OnTaskGradients(StepContext ctx) { }

    /// <summary>A scalar to add to the loss at this step (its gradient is accumulated), or null.</summary>
    Tensor? Penalty(StepContext ctx) => null;

    void BeforeOptimizerStep(StepContext ctx) { }

    void AfterOptimizerStep(StepContext ctx) { }

    /// <summary>Tensors to save in a checkpoint so a resumed run continues exactly.</summary>
    IEnumerable<KeyValuePair<string, Tensor>> State() => [];

    void LoadState(IReadOnlyDictionary<string, Tensor> state) { }
}

/// <summary>A hook that leaves files in the run folder when the run finishes (importance, layer weights).</summary>
public interface IRunArtifacts
{
    void WriteArtifacts(string runDir);
}
