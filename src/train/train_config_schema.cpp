#include "opd/train/train_config_schema.h"

namespace opd::train {

#define OPD_CONFIG_PAIR_FIELD(m1, m2, key, d1, d2, check, doc) number_pair(key, &S::m1, &S::m2, check, doc),
// `function` returns the schema of `Struct`, the fields of its list expanded once.
#define OPD_CONFIG_SCHEMA(function, Struct, ...)      \
  const config::Schema<Struct>& function() {          \
    using S = Struct;                                 \
    using namespace opd::config;                      \
    static const config::Schema<S> schema = {__VA_ARGS__}; \
    return schema;                                    \
  }

OPD_CONFIG_SCHEMA(train_schema, TrainConfig, OPD_TRAIN_FIELDS(OPD_CONFIG_FIELD))
OPD_CONFIG_SCHEMA(model_spec_schema, ModelSpec, OPD_MODEL_SPEC_FIELDS(OPD_CONFIG_FIELD))
OPD_CONFIG_SCHEMA(data_schema, DataConfig, OPD_DATA_FIELDS(OPD_CONFIG_FIELD))
OPD_CONFIG_SCHEMA(rollout_schema, RolloutConfig, OPD_ROLLOUT_FIELDS(OPD_CONFIG_FIELD))
OPD_CONFIG_SCHEMA(eval_schema, EvalConfig, OPD_EVAL_FIELDS(OPD_CONFIG_FIELD))
OPD_CONFIG_SCHEMA(lora_schema, LoraConfig, OPD_LORA_FIELDS(OPD_CONFIG_FIELD))
OPD_CONFIG_SCHEMA(optim_schema, OptimConfig, OPD_OPTIM_FIELDS(OPD_CONFIG_FIELD, OPD_CONFIG_PAIR_FIELD))

#undef OPD_CONFIG_SCHEMA
#undef OPD_CONFIG_PAIR_FIELD

}  // namespace opd::train
