using System.CommandLine;
using Alora.Recipes;

namespace Alora.Cli.Commands;

/// <summary>alora pretrain: a small Llama from scratch on a text corpus, saved as a HuggingFace model folder.</summary>
public static class PretrainCommand
{
    public static Command Create(CliIo io)
    {
        var d = new PretrainOptions();
        var tokenizer = new Option<string>("--tokenizer")
        {
            Description = "folder with tokenizer.json, or ORG/NAME[@REVISION] on the hub (its vocabulary sizes the model)",
            Required = true,
        };
        var data = new Option<string>("--data") { Description = "general text to pretrain on", Required = true };
        var output = new Option<string>("--out") { Description = "model folder to write", Required = true };
        var hidden = new Option<int>("--hidden") { DefaultValueFactory = _ => d.Hidden, Description = "hidden size" }.AtLeast(1);
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => d.Layers, Description = "decoder layers" }.AtLeast(1);
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => d.Heads, Description = "attention heads" }.AtLeast(1);
        var kvHeads = new Option<int>("--kv-heads")
        {
            DefaultValueFactory = _ => d.KvHeads,
            Description = "key/value heads (grouped-query attention when fewer)",
        }.AtLeast(1);
        var inter = new Option<int>("--intermediate") { DefaultValueFactory = _ => d.Intermediate, Description = "MLP intermediate size" }.AtLeast(1);
        var maxLength = new Option<int>("--max-length") { DefaultValueFactory = _ => d.MaxLength, Description = "context length" }.AtLeast(2);
        var steps = new Option<int>("--max-steps") { DefaultValueFactory = _ => d.MaxSteps, Description = "optimizer steps" }.AtLeast(1);
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => d.BatchSize, Description = "sequences per step" }.AtLeast(1);
        var micro = new Option<int>("--micro-batch-size")
        {
            DefaultValueFactory = _ => d.MicroBatchSize,
            Description = "sequences per forward pass",
        }.AtLeast(1);
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => d.Lr, Description = "peak learning rate (cosine schedule)" };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => d.Seed, Description = "seed of the initialisation and data order" };
        var untie = new Option<bool>("--untie-embeddings") { Description = "a separate lm_head instead of one shared with embed_tokens" };
        var resume = new Option<bool>("--resume") { Description = "continue an interrupted pretraining in --out" };
        var cmd = new Command("pretrain", "Pretrain a small Llama from scratch (the demo's base model).");
        foreach (
            var o in new Option[]
            {
                tokenizer,
                data,
                output,
                hidden,
                layers,
                heads,
                kvHeads,
                inter,
                maxLength,
                steps,
                batch,
                micro,
                lr,
                seed,
                untie,
                resume,
            }
        )
            cmd.Add(o);
        cmd.SetAction(p =>
        {
            var o = new PretrainOptions
            {
                Tokenizer = HubCli.Tokenizer(io, p.GetValue(tokenizer)!),
                Data = HubCli.Data(io, p.GetValue(data)!),
                Out = p.GetValue(output)!,
                Hidden = p.GetValue(hidden),
                Layers = p.GetValue(layers),
                Heads = p.GetValue(heads),
                KvHeads = p.GetValue(kvHeads),
                Intermediate = p.GetValue(inter),
                MaxLength = p.GetValue(maxLength),
                MaxSteps = p.GetValue(steps),
                BatchSize = p.GetValue(batch),
                MicroBatchSize = p.GetValue(micro),
                Lr = p.GetValue(lr),
                Seed = p.GetValue(seed),
                TieWordEmbeddings = !p.GetValue(untie),
                Resume = p.GetValue(resume),
            };
            var history = ProgressView.RunTraining(io, "pretrain", progress => PretrainRecipe.Run(o, progress));
            io.Out.WriteLine($"model: {Path.GetFullPath(o.Out)}");
            io.Out.WriteLine($"steps: {history.Count}  first loss: {history[0].TaskLoss:F4}  last loss: {history[^1].TaskLoss:F4}");
            return 0;
        });
        return cmd;
    }
}
