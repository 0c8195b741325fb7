import { Module } from '@nestjs/common';
import { RiskEvaluator } from './risk-evaluator';
import { riskMetricProviders } from './risk.metrics';

/** The risk rules' evaluation, for metering (worker). */
@Module({ providers: [RiskEvaluator, ...riskMetricProviders], exports: [RiskEvaluator] })
export class RiskCoreModule {}
