using System.Diagnostics;
using Alora.Data;
using Alora.Lora;
using Alora.Models;
using Alora.Runtime;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Bench;

/// <summary>
/// LoRA training throughput of one shape: the path <c>alora train</c> runs (LlamaForCausalLM, LoraInjector on q_proj and
/// v_proj, Trainer with AdamW), random weights and tokens, then the float32 matmul peak of the same threads. The peak RSS
/// is the process's, so the CLI runs each shape in a process of its own.
/// </summary>
public static class TrainBench
{
    public const int Rank = 8;
    public const double Alpha = 16;
    public const double Lr = 1e-4;
    public const long Seed = 42;

    /// <summary>Side of the square float32 matrices of the sgemm peak.</summary>
    public const int SgemmSize = 1024;

    /// <summary>Timed products of the sgemm peak (after one untimed), before the model is built and again after the timed steps; the best counts.</summary>
    public const int SgemmRepeats = 5;

    public static TrainBenchShapeResult RunShape(
        TrainBenchShape shape,
        int steps,
        int warmup,
        IProgress<string>? log = null,
        bool baseWeightsBf16 = false
    )
    {
        if (steps < 1)
            throw new AloraException($"--steps must be at least 1 (got {steps})");
        if (warmup < 0)
            throw new AloraException($"--warmup must be non-negative (got {warmup})");
        var cfg = shape.ModelConfig();
        cfg.Validate("bench");
        TorchRuntime.Initialize();
        int threadsBefore = get_num_threads();
        set_num_threads(shape.Threads);
        try
        {
            double sgemmBefore = SgemmGflops(); // before and after: a peak taken while another process held a core would be low
            var build = Stopwatch.StartNew();
            random.manual_seed(Seed);
            using var model = new LlamaForCausalLM(cfg);
            if (baseWeightsBf16)
                model.StoreLinearWeightsInBf16(); // before the weights are written, as ModelLoader does
            model.InitWeights(0.02);
            random.manual_seed(Seed + 1);
            var adapters = LoraInjector.Inject(
                model,
                new LoraConfig
                {
                    R = Rank,
                    Alpha = Alpha,
                    TargetModules = ["q_proj", "v_proj"],
                }
            );
            var train = new TrainConfig
            {
                Lr = Lr,
                BatchSize = shape.Batch,
                MicroBatchSize = shape.Batch,
                MaxLength = shape.Seq,
                Schedule = LrSchedule.Constant,
                MaxSteps = warmup + steps,
                Seed = Seed,
                CheckpointEvery = 0,
            };
            using var trainer = new Trainer(model, adapters, ImportanceBench.RandomSequences(shape.Batch * 2, shape.Seq, shape.Vocab, Seed), train);
            long parameters = model.parameters().Sum(p => p.numel());
            long loraParameters = adapters.Sum(a => a.Layer.lora_A.weight.numel() + a.Layer.lora_B.weight.numel());
            log?.Report(
                $"{shape.Name}: sgemm {sgemmBefore:F1} GFLOP/s; built in {build.Elapsed.TotalSeconds:F1} s, {parameters:N0} parameters; {warmup} warm-up + {steps} timed steps"
            );

            trainer.Train(stopAfter: warmup);
            var stepMs = new double[steps];
            for (int i = 0; i < steps; i++)
            {
                var clock = Stopwatch.StartNew();
                trainer.Train(stopAfter: trainer.Step + 1);
                stepMs[i] = clock.Elapsed.TotalMilliseconds;
                log?.Report($"{shape.Name}: step {i + 1}/{steps} {stepMs[i]:F0} ms");
            }
            long peak = PeakMemory.Bytes(); // before the sgemm's matrices, which are small beside the model anyway
            return new TrainBenchShapeResult
            {
                Shape = shape,
                Warmup = warmup,
                StepMs = stepMs,
                PeakRssBytes = peak,
                Flops = TrainFlops.Of(shape, Rank),
                SgemmGflops = Math.Max(sgemmBefore, SgemmGflops()),
                Parameters = parameters,
                LoraParameters = loraParameters,
                TorchThreads = get_num_threads(),
                Loss = trainer.History[^1].Loss,
                BaseWeightsDtype = baseWeightsBf16 ? "bfloat16" : "float32",
            };
        }
        finally
        {
            set_num_threads(threadsBefore);
        }
    }

    /// <summary>Best GFLOP/s of torch.mm on float32 [n,n] x [n,n] (2 n^3 FLOPs) over <see cref="SgemmRepeats"/> products after one warm-up, on the current threads.</summary>
    public static double SgemmGflops(int n = SgemmSize)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        a.mm(b).Dispose();
        double best = double.MaxValue;
        for (int i = 0; i < SgemmRepeats; i++)
        {
            var clock = Stopwatch.StartNew();
            a.mm(b).Dispose();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }
}
