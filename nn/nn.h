// gradway nn: Keras-like layers, losses, metrics, optimisers, Model.fit with callbacks,
// safetensors checkpoints and Summary. #include "nn/nn.h" and depend on //nn:nn. It also
// gives gradway's version (base/version.h: GRADWAY_VERSION_STRING, VersionString()).
#ifndef GRADWAY_NN_NN_H_
#define GRADWAY_NN_NN_H_

#include "base/version.h"
#include "nn/attention.h"
#include "nn/augmentation.h"
#include "nn/callback.h"
#include "nn/callbacks.h"
#include "nn/checkpoint.h"
#include "nn/collective.h"
#include "nn/csv_dataset.h"
#include "nn/dataset.h"
#include "nn/functional.h"
#include "nn/image_dataset.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/losses.h"
#include "nn/masking.h"
#include "nn/merge.h"
#include "nn/metrics.h"
#include "nn/model.h"
#include "nn/module.h"
#include "nn/normalization.h"
#include "nn/onnx_export.h"
#include "nn/optimizers.h"
#include "nn/progress.h"
#include "nn/schedules.h"
#include "nn/recurrent.h"
#include "nn/training_state.h"
#include "nn/wrappers.h"

#endif  // GRADWAY_NN_NN_H_
