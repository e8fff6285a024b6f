namespace Alora.Bench;

/// <summary>Shape and schedule of <see cref="ImportanceBench"/>; the CLI options of <c>alora bench importance</c> have these names.</summary>
public sealed record ImportanceBenchOptions
{
    public int Vocab { get; init; } = 8192;
    public int Hidden { get; init; } = 256;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 8;
    public int KvHeads { get; init; } = 4;
    public int Intermediate { get; init; } = 688;

    /// <summary>Tokens per sequence.</summary>
    public int Seq { get; init; } = 256;

    /// <summary>Sequences per optimizer step (one micro-batch).</summary>
    public int Batch { get; init; } = 8;
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 32;

    /// <summary>Interleaved rounds; every reported time is a median over them.</summary>
    public int Rounds { get; init; } = 10;

    /// <summary>Training steps of each configuration per round.</summary>
    public int StepsPerRound { get; init; } = 2;

    /// <summary>Untimed steps of each configuration before the first round.</summary>
    public int WarmupSteps { get; init; } = 1;

    /// <summary>Calls of each hook per round when it is timed on its own.</summary>
    public int HookRepeats { get; init; } = 10;

    /// <summary>N: samples of the Fisher pass compared with recording over the same N samples (spread over the rounds).</summary>
    public int FisherSamples { get; init; } = 64;
    public long Seed { get; init; } = 42;

    /// <summary>
    /// torch intra-op threads for the run; 0 keeps torch's default (one per core). Default 1: on a shared
    /// machine two threads wait on each other at every parallel op whenever another process holds a core,
    /// which makes small ops (the hooks') tens of times slower and step times swing by 2x; one thread
    /// measures the arithmetic.
    /// </summary>
    public int Threads { get; init; } = 1;

    public void Validate()
    {
        static void Positive(int v, string name)
        {
            if (v < 1)
                throw new AloraException($"--{name} must be at least 1 (got {v})");
        }
        Positive(Vocab, "vocab");
        Positive(Hidden, "hidden");
        Positive(Layers, "layers");
        Positive(Heads, "heads");
        Positive(KvHeads, "kv-heads");
        Positive(Intermediate, "intermediate");
        Positive(Batch, "batch");
        Positive(Rank, "rank");
        Positive(Rounds, "rounds");
        Positive(StepsPerRound, "steps-per-round");
        Positive(HookRepeats, "hook-repeats");
        Positive(FisherSamples, "fisher-samples");
        if (Threads < 0)
            throw new AloraException($"--threads must be non-negative (got {Threads})");
        if (Seq < 2)
            throw new AloraException($"--seq must be at least 2 (got {Seq})");
        if (WarmupSteps < 1)
            throw new AloraException($"--warmup-steps must be at least 1 (the hooks are timed on a step's gradients; got {WarmupSteps})");
        if (Alpha <= 0 || double.IsNaN(Alpha))
            throw new AloraException($"--alpha must be positive (got {Alpha})");
        if (Hidden % Heads != 0)
            throw new AloraException($"--hidden {Hidden} is not a multiple of --heads {Heads}");
    }
}
