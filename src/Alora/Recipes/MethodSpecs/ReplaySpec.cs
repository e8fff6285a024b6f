namespace Alora.Recipes;

/// <summary>
/// Replay(rho): LoRA(μ)'s fresh adapter, no general stage and no penalty, trained on batches of which
/// k = round(rho * B) sequences are general text (--general-data) and B - k domain data; the loss is the
/// cross-entropy over all the batch's target tokens. The mixing is the trainer's batch schedule
/// (<see cref="Training.BatchSchedule"/>); rho = 0 is LoRA(μ) exactly.
/// </summary>
public static class ReplaySpec
{
    public static MethodSpec Spec { get; } =
        new()
        {
            Method = FinetuneMethod.Replay,
            Summary = "LoRA(μ) on batches of which round(rho * B) sequences are replayed general text (`--general-data`)",
            // --general-data is also read by --stage both of every method, so it is not replay's own
            Options = ["replay-fraction"],
            Stages = new Dictionary<Stage, StageHooks> { [Stage.Domain] = _ => [] },
            ReplaysGeneralData = true,
            Experiment =
            [
                new()
                {
                    Name = "replay",
                    Display = "Replay",
                    ReadsGeneralData = true,
                    Strength = ["replay-fraction"],
                    Settings = (d, _) => new(ReplayFraction: d.ReplayFraction),
                },
            ],
        };
}
