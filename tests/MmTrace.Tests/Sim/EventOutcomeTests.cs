using MmTrace.Sim;

namespace MmTrace.Tests.Sim;

public class EventOutcomeTests
{
    [Fact]
    public void Only_the_kinds_a_missing_partner_event_produces_are_explained_by_a_loss()
    {
        var explained = Enum.GetValues<AnomalyKind>().Where(k => k.LossExplains()).Select(k => k.Name()).ToList();
        Assert.Equal(["free_of_unknown_pointer", "double_free", "alloc_of_live_pointer", "page_free_of_unknown_page", "page_free_order_mismatch",
            "cache_mismatch", "unmap_of_unknown_mapping", "kmap_atomic_overflow"], explained);
    }
}
