using Alora.Data;

namespace Alora.Tests.Data;

/// <summary>The real benchmark files in ../shared/fixtures/datasets; counts and label sums checked independently with Python.</summary>
public class McqFixtureTests
{
    [DataFixtureFact("datasets/piqa/dev.jsonl", "datasets/piqa/dev-labels.lst")]
    public void PiqaDevWithLabelsFile()
    {
        var path = DataFixtures.Path("datasets/piqa/dev.jsonl");
        var explicitLabels = McqDatasets.Read("piqa", path, DataFixtures.Path("datasets/piqa/dev-labels.lst"));
        var foundLabels = McqDatasets.Read("piqa", path); // dev-labels.lst found beside dev.jsonl

        Assert.Equal(1838, explicitLabels.Count);
        Assert.Equal(explicitLabels.Select(i => i.Answer), foundLabels.Select(i => i.Answer));
        Assert.Equal(928, explicitLabels.Count(i => i.Answer == 1));
        var first = explicitLabels[0];
        Assert.Equal("c36c629e-12e9-43cc-8936-e1a96d869ab0", first.Id);
        Assert.Equal("Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:", first.Prompt);
        Assert.Equal(2, first.Choices.Count);
        Assert.StartsWith(
            "Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips",
            first.Choices[0],
            StringComparison.Ordinal
        );
        Assert.StartsWith(
            "Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans",
            first.Choices[1],
            StringComparison.Ordinal
        );
        Assert.Equal(0, first.Answer);
        var last = explicitLabels[^1];
        Assert.Equal("Question: Where can I buy a tennis ball\nAnswer:", last.Prompt);
        Assert.Equal(["You can purchase a tennis ball at any sports store", "You can purchase a tennis racket at any sports store"], last.Choices);
    }

    [DataFixtureFact("datasets/medmcqa/validation.jsonl")]
    public void MedMcqaValidationAsMedMcqaAndAsGeneric()
    {
        var path = DataFixtures.Path("datasets/medmcqa/validation.jsonl");
        var med = McqDatasets.Read("medmcqa", path);
        var generic = McqDatasets.Read("mcq", path);

        Assert.Equal(4183, med.Count);
        Assert.Equal(4183, generic.Count);
        Assert.Equal(1348, med.Count(i => i.Answer == 0));
        Assert.Equal(825, med.Count(i => i.Answer == 3));
        Assert.Equal(
            "Question: Which of the following is not true for myelinated nerve fibers:\nChoices:\n"
                + "A. Impulse through myelinated fibers is slower than non-myelinated fibers\n"
                + "B. Membrane currents are generated at nodes of Ranvier\n"
                + "C. Saltatory conduction of impulses is seen\n"
                + "D. Local anesthesia is effective only when the nerve is not covered by myelin sheath\nAnswer:",
            med[0].Prompt
        );
        Assert.Equal(["A", "B", "C", "D"], med[0].Choices);
        Assert.Equal(0, med[0].Answer);

        Assert.Equal("Question: Which of the following is not true for myelinated nerve fibers:\nAnswer:", generic[0].Prompt);
        Assert.Equal("A. Impulse through myelinated fibers is slower than non-myelinated fibers", generic[0].Choices[0]);
        Assert.Equal(med.Select(i => i.Answer), generic.Select(i => i.Answer));
        Assert.Equal(["A. B-cell", "B. T-cell", "C. NK-cell", "D. Plasma cell"], generic[^1].Choices);
    }

    [DataFixtureFact("datasets/sciq/test-question-answer.jsonl")]
    public void SciQQuestionAnswerReadsAsQaAndIsRejectedAsMultipleChoice()
    {
        var path = DataFixtures.Path("datasets/sciq/test-question-answer.jsonl");
        var qa = McqDatasets.ReadSciQQuestionAnswer(path);

        Assert.Equal(1000, qa.Count);
        Assert.Equal("Question: Compounds that are capable of accepting electrons, such as o 2 or f2, are called what?\nAnswer:", qa[0].Prompt);
        Assert.Equal(" oxidants", qa[0].Completion);
        Assert.Equal(" sulfur dioxide (so2)", qa[^1].Completion);

        var ex = Assert.Throws<AloraException>(() => McqDatasets.Read("sciq", path));
        Assert.StartsWith($"{path} line 1: field 'distractor1' is missing", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cannot be scored as multiple choice", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<AloraException>(() => McqDatasets.Read("mcq", path));
        Assert.StartsWith($"{path} line 1: field 'choices' is missing", ex.Message, StringComparison.Ordinal);
    }

    [DataFixtureFact("datasets/medmcqa/validation.jsonl")]
    public void TrainingExamplesFromFixtureEndWithTheCorrectChoice()
    {
        var items = McqDatasets.Read("medmcqa", DataFixtures.Path("datasets/medmcqa/validation.jsonl"));
        var examples = McqDatasets.ToTrainingExamples(items);
        Assert.Equal(items.Count, examples.Count);
        Assert.Equal(items[0].Prompt, examples[0].Prompt);
        Assert.Equal(" A", examples[0].Completion);
    }
}
