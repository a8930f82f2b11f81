#include "opd/objectives/registry.h"

#include "opd/objectives/eopd.h"
#include "opd/objectives/fkl.h"
#include "opd/objectives/full_vocab_divergence.h"
#include "opd/objectives/jsd.h"
#include "opd/objectives/mask.h"
#include "opd/objectives/opd.h"
#include "opd/objectives/reopold.h"
#include "opd/objectives/sft.h"
#include "opd/objectives/tropd.h"
#include "opd/objectives/weighted_sum.h"

namespace opd {
namespace {

std::unique_ptr<Objective> full_vocab(const ObjectiveConfig& c, ops::KlDirection direction,
                                      TokenSource tokens) {
  return std::make_unique<FullVocabDivergenceObjective>(FullVocabDivergenceOptions{
      objective_name(c.kind), direction, tokens, c.kl_clip, c.support_k});
}

}  // namespace

std::unique_ptr<Objective> make_objective(const ObjectiveConfig& c) {
  validate_objective_config(c, "objective");
  const auto pg = objectives::PolicyGradientOptions::from(c);
  switch (c.kind) {
    case ObjectiveKind::kSft: return std::make_unique<SftObjective>(c.sft_targets);
    case ObjectiveKind::kOpd:
    case ObjectiveKind::kGopd:
    case ObjectiveKind::kEntropyOpd:
      return std::make_unique<OpdObjective>(objective_name(c.kind), pg);
    case ObjectiveKind::kFkl: return std::make_unique<FklObjective>(c.top_k, c.renormalize);
    case ObjectiveKind::kJsd: return std::make_unique<JsdObjective>(c.beta, c.top_k);
    case ObjectiveKind::kEopd:
      return std::make_unique<EopdObjective>(pg, c.top_k, c.entropy_threshold, c.alpha);
    case ObjectiveKind::kReopold: return std::make_unique<ReopoldObjective>(pg, c.reward_floor);
    case ObjectiveKind::kMask: return std::make_unique<MaskObjective>(pg, c.mask_threshold);
    case ObjectiveKind::kTropd:
      return std::make_unique<TropdObjective>(
          TropdOptions{pg, c.outlier, c.top_k, c.reward_floor, c.prefix_beta, c.renormalize, c.kl_clip,
                       c.fkl_after_first_error});
    case ObjectiveKind::kTrd: return full_vocab(c, ops::KlDirection::kForward, TokenSource::kRefined);
    case ObjectiveKind::kFklFull:
      return full_vocab(c, ops::KlDirection::kForward, TokenSource::kStudent);
    case ObjectiveKind::kRklFull:
      return full_vocab(c, ops::KlDirection::kReverse, TokenSource::kStudent);
    case ObjectiveKind::kSum: {
      std::vector<WeightedSumObjective::Term> terms;
      for (const auto& t : c.terms) terms.push_back({t.weight, make_objective(t.objective)});
      return std::make_unique<WeightedSumObjective>(std::move(terms));
    }
  }
  TORCH_CHECK(false, "make_objective: unhandled objective kind ", static_cast<int>(c.kind));
}

}  // namespace opd
