namespace Alora.Lora;

/// <summary>LoRA hyper-parameters as PEFT's LoraConfig names them.</summary>
public sealed record LoraConfig
{
    public int R { get; init; } = 8;
    public double Alpha { get; init; } = 32;
    public double Dropout { get; init; }
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];

    /// <summary>rsLoRA: scaling alpha / sqrt(r) instead of alpha / r.</summary>
    public bool UseRslora { get; init; }

    /// <summary>s in D = s * B @ A.</summary>
    public double Scaling => UseRslora ? Alpha / Math.Sqrt(R) : Alpha / R;

    public void Validate()
    {
        if (R < 1)
            throw new AloraException($"--rank must be at least 1 (got {R})");
        if (!(Alpha > 0) || !double.IsFinite(Alpha))
            throw new AloraException($"--alpha must be positive (got {Alpha})");
        if (!(Dropout is >= 0 and < 1))
            throw new AloraException($"--dropout must be in [0, 1) (got {Dropout})");
        if (TargetModules.Count == 0)
            throw new AloraException("--target-modules is empty");
    }
}
