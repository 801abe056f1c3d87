# Reference values for the compendium's prediction interval (src/compendium/analyses.py,
# prediction_interval): a new study's true effect on t(k - 2), mu +- t(k - 2; 0.975) * sqrt(SE^2 + tau2)
# (Higgins, Thompson & Spiegelhalter 2009; Riley, Higgins & Deeks 2011), with SE and tau2 taken from
# metafor's rma() under each test the compendium can lead with (z, knha, adhoc). metafor 3.8's
# predict() gives the interval on z (test "z") or t(k - 1) (test "knha"/"adhoc"); both are kept beside
# ours, so the test also checks that we do not report either of them.
#
# Run from the repository root:   Rscript tests/reference/make_reference_prediction.R
# Writes tests/reference/prediction_reference.json, which is committed: the tests never need R.
suppressMessages({
  library(metafor)
  library(jsonlite)
})
ctrl <- list(threshold = 1e-13, tol = 1e-13, maxiter = 10000)
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
sets <- list(bcg = bcg, bcg_first3 = bcg[1:3, ], bcg_first4 = bcg[1:4, ], molloy = mol, molloy_first5 = mol[1:5, ])
one <- function(dat, test) {
  res <- rma(yi, vi, data = dat, method = "REML", test = test, control = ctrl)
  k <- res$k
  half <- qt(0.975, k - 2) * sqrt(res$se^2 + res$tau2)
  pred <- predict(res)
  list(k = k, estimate = c(res$beta), se = res$se, tau2 = res$tau2,
       pi_low = c(res$beta) - half, pi_high = c(res$beta) + half,
       metafor_pi_low = pred$pi.lb, metafor_pi_high = pred$pi.ub)
}
ref <- list(metafor_version = as.character(packageVersion("metafor")), sets = list())
for (name in names(sets)) {
  dat <- sets[[name]]
  ref$sets[[name]] <- list(yi = c(dat$yi), vi = c(dat$vi),
                           z = one(dat, "z"), knha = one(dat, "knha"), adhoc = one(dat, "adhoc"))
}
write_json(ref, "tests/reference/prediction_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
