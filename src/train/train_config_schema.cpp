#include "opd/train/train_config_schema.h"

namespace opd::train {

#define OPD_CONFIG_PAIR_FIELD(m1, m2, key, d1, d2, check, doc) config::number_pair(key, &S::m1, &S::m2, check, doc),

const config::Schema<TrainConfig>& train_schema() {
  using S = TrainConfig;
  using namespace opd::config;
  static const config::Schema<S> schema = {OPD_TRAIN_FIELDS(OPD_CONFIG_FIELD)};
  return schema;
}

const config::Schema<ModelSpec>& model_spec_schema() {
  using S = ModelSpec;
  using namespace opd::config;
  static const config::Schema<S> schema = {OPD_MODEL_SPEC_FIELDS(OPD_CONFIG_FIELD)};
  return schema;
}

const config::Schema<DataConfig>& data_schema() {
  using S = DataConfig;
  using namespace opd::config;
  static const config::Schema<S> schema = {OPD_DATA_FIELDS(OPD_CONFIG_FIELD)};
  return schema;
}

const config::Schema<RolloutConfig>& rollout_schema() {
  using S = RolloutConfig;
  using namespace opd::config;
  static const config::Schema<S> schema = {OPD_ROLLOUT_FIELDS(OPD_CONFIG_FIELD)};
  return schema;
}

const config::Schema<LoraConfig>& lora_schema() {
  using S = LoraConfig;
  using namespace opd::config;
  static const config::Schema<S> schema = {OPD_LORA_FIELDS(OPD_CONFIG_FIELD)};
  return schema;
}

const config::Schema<OptimConfig>& optim_schema() {
  using S = OptimConfig;
  using namespace opd::config;
  static const config::Schema<S> schema = {OPD_OPTIM_FIELDS(OPD_CONFIG_FIELD, OPD_CONFIG_PAIR_FIELD)};
  return schema;
}

#undef OPD_CONFIG_PAIR_FIELD

}  // namespace opd::train
