using Alora.Eval;
using Alora.Generation;
using Alora.Lora;
using Alora.Methods;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Runtime;

/// <summary>
/// The tensor half of the lifetime rule: every tensor a training step, an evaluation batch or a decoding step makes
/// is made inside a dispose scope (TorchSharp counts, per thread, the tensors made outside one), so the scope keeps
/// each temporary alive through the native calls that read it and frees it at the end of the step, never a finalizer.
/// Live tensors stay level from step to step: nothing accumulates.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class DisposeScopeCoverageTests
{
    static long Outside => DisposeScopeManager.Statistics.CreatedOutsideScopeCount;
    static long Live => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    [Fact]
    public void TrainingStepsMakeNoTensorOutsideAScopeAndLeaveNoneBehind()
    {
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(
            model,
            new LoraConfig
            {
                R = 4,
                Alpha = 16,
                Dropout = 0.1,
            }
        );
        using var dir = new TempDir();
        using var recorder = new SiRecorder(adapters, SiVariant.Paper, 1e-3, clamp: true, dir.File("importance.safetensors"));
        var config = new TrainConfig
        {
            Lr = 1e-2,
            MaxSteps = 30,
            BatchSize = 4,
            MicroBatchSize = 2,
            MaxLength = 16,
            Seed = 3,
            CheckpointEvery = 0,
        };
        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(16, 16), config, hooks: [recorder]);
        trainer.Train(stopAfter: 10);
        long outside = Outside,
            live = Live;
        trainer.Train(stopAfter: 30);
        Assert.Equal(0, Outside - outside);
        Assert.Equal(live, Live);
    }

    [Fact]
    public void EvaluationAndDecodingMakeNoTensorOutsideAScope()
    {
        using var model = TinyModels.Llama();
        var docs = TinyModels.PatternData(5, 40).Select(e => new ScoredSequence(e.Ids.Select(i => (long)i).ToArray())).ToList();
        var requests = TinyModels.PatternData(6, 12).Select(e => new LoglikelihoodRequest(e.Ids[..8], e.Ids[8..])).ToList();
        var scorer = new CausalLMScorer(model, batchSize: 4);
        Perplexity.Evaluate(model, docs, new PerplexityOptions { MaxLength = 16, BatchSize = 2 }); // warm-up: lazily made state
        long outside = Outside,
            live = Live;
        Perplexity.Evaluate(
            model,
            docs,
            new PerplexityOptions
            {
                MaxLength = 16,
                Stride = 8,
                BatchSize = 2,
            }
        );
        scorer.Score(requests);
        GreedyDecoder.Generate(model, [3, 4, 5], 6);
        Assert.Equal(0, Outside - outside);
        Assert.Equal(live, Live);
    }
}
