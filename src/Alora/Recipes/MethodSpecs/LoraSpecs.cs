namespace Alora.Recipes;

/// <summary>Plain LoRA and rsLoRA: the training loop without hooks, in either stage; LoRA's adapter is also compared scaled (lora-scaled).</summary>
public static class LoraSpecs
{
    static readonly IReadOnlyDictionary<Stage, StageHooks> NoHooks = new Dictionary<Stage, StageHooks>
    {
        [Stage.General] = _ => [],
        [Stage.Domain] = _ => [],
    };

    public static MethodSpec Lora { get; } =
        new()
        {
            Method = FinetuneMethod.Lora,
            Summary = "LoRA, scaling alpha/r",
            Stages = NoHooks,
            Experiment =
            [
                new() { Name = "lora-mu", Display = "LoRA(μ)" },
                // adapter scaling (WiSE-FT on the adapter): lora-mu's adapter at beta, no training of its own
                new()
                {
                    Name = "lora-scaled",
                    Display = "LoRA(μ)×β",
                    ScalesAdapterOf = "lora-mu",
                },
                new()
                {
                    Name = "lora-nu-mu",
                    Display = "LoRA(ν+μ)",
                    ContinuesGeneral = true,
                },
            ],
        };

    public static MethodSpec Rslora { get; } =
        new()
        {
            Method = FinetuneMethod.Rslora,
            Summary = "rank-stabilised LoRA, scaling alpha/sqrt(r)",
            Stages = NoHooks,
            RankStabilized = true,
            Experiment = [new() { Name = "rslora", Display = "RSLoRA" }],
        };
}
